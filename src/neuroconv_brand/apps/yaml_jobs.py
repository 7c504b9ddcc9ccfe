"""Convert the sessions of a specification: one at a time, in worker processes, or on a Dask cluster.

:func:`convert_session` does one :class:`~neuroconv_brand.apps.yaml_specification.SessionTask` and never raises: it returns
a :class:`SessionResult` (output path, ok or the error, seconds, warnings), so one broken session cannot stop
the others. :func:`run_tasks` only chooses where the calls run.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import multiprocessing
import os
import signal
import time
import traceback
import warnings
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
from neuroconv import BaseDataInterface, NWBConverter
from neuroconv.utils import dict_deep_update

from ..errors import BrandError
from ..interruption import deferred_interrupts, install_stop_handlers
from ..nwb.backend_edits import apply_dataset_edits
from ..nwb.dataset_io import default_backend_configuration
from ..nwb.output_files import write_nwbfile
from .yaml_specification import SessionTask, YamlSpecificationError

logger = logging.getLogger(__name__)

#: Start method of worker processes. Not "fork": a forked child would share the parent's Redis
#: connections, embedded redis-server handles and threads.
WORKER_START_METHOD = "spawn"


class DaskNotInstalledError(BrandError, ImportError):
    """``dask_scheduler`` was given but ``dask.distributed`` is not installed."""


@dataclass(frozen=True)
class SessionResult:
    """How one session went.

    Attributes
    ----------
    label : str
        The session's JSON path in the specification, e.g. ``$.experiments.cursor.sessions[1]``.
    experiment : str
    index : int
    nwbfile_path : Path
        The output (written only when ``ok``).
    ok : bool
    error : str or None
        ``"<ErrorType>: <message>"`` when the session failed.
    seconds : float
        Wall time of the session.
    warnings : tuple of str
        Warnings raised while converting (e.g. streams skipped).
    traceback : str or None
        The full traceback of a failure, for bug reports.
    skipped : bool
        The output existed and the run was asked to skip existing outputs (``ok`` is True, nothing was written).
    """

    label: str
    experiment: str
    index: int
    nwbfile_path: Path
    ok: bool
    error: str | None
    seconds: float
    warnings: tuple[str, ...] = ()
    traceback: str | None = None
    skipped: bool = False


# --- one session ---------------------------------------------------------------------------------------


def convert_session(task: SessionTask) -> SessionResult:
    """Convert one session; failures are returned in the result, never raised.

    Parameters
    ----------
    task : SessionTask
        The planned session (see :func:`neuroconv_brand.apps.yaml_specification.plan_conversion`).

    Returns
    -------
    SessionResult
    """
    start = time.perf_counter()
    error = details = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        try:
            _convert(task)
        except Exception as exc:  # reported in the summary; the other sessions go on
            error = f"{type(exc).__name__}: {exc}"
            details = traceback.format_exc()
    gc.collect()  # closes the BRAND sources of this session's interfaces now, not when the worker exits
    seconds = time.perf_counter() - start
    messages = tuple(dict.fromkeys(f"{item.category.__name__}: {item.message}" for item in caught))
    if error is None:
        logger.info("%s -> %s (%.1f s)", task.label, task.nwbfile_path, seconds)
    else:
        logger.warning("%s failed: %s", task.label, error)
    return SessionResult(
        task.label,
        task.experiment,
        task.index,
        task.nwbfile_path,
        error is None,
        error,
        seconds,
        messages,
        details,
    )


def _convert(task: SessionTask) -> None:
    if task.nwbfile_path.exists() and not task.overwrite:
        raise FileExistsError(
            f"{task.nwbfile_path} already exists; pass overwrite=True (--overwrite) to replace it."
        )
    converter_class = type(
        "YamlSpecificationConverter", (NWBConverter,), {"data_interface_classes": task.interface_classes}
    )
    converter = converter_class(
        source_data={name: dict(arguments) for name, arguments in task.source_data.items()}
    )
    metadata = converter.get_metadata()
    for _, layer in task.metadata_layers:
        metadata = dict_deep_update(metadata, layer)
    options = resolve_conversion_options(converter, task)
    _validate(converter, metadata, options, task)
    converter.temporally_align_data_interfaces(metadata=metadata, conversion_options=options)
    nwbfile = converter.create_nwbfile(metadata=metadata, conversion_options=options)
    configuration = default_backend_configuration(nwbfile, backend=task.backend)
    apply_dataset_settings(configuration, task)
    write_nwbfile(nwbfile, task.nwbfile_path, backend_configuration=configuration, overwrite=task.overwrite)


def _validate(converter: NWBConverter, metadata: dict, options: dict, task: SessionTask) -> None:
    # jsonschema's own message prints the whole schema; say where and what instead.
    try:
        converter.validate_metadata(metadata)
    except jsonschema.ValidationError as exc:
        raise YamlSpecificationError(
            [
                f"{task.specification}: at {task.label}: the session's metadata at {exc.json_path} is invalid: "
                f"{exc.message}. Fix: correct it in the specification's metadata (top level, experiment or "
                "session) or in the source's files."
            ],
            context="this session was not converted",
        ) from None
    try:
        converter.validate_conversion_options(options)
    except jsonschema.ValidationError as exc:
        raise YamlSpecificationError(
            [
                f"{task.specification}: at {task.label}.conversion_options: the option at {exc.json_path} is "
                f"invalid: {exc.message}. Fix: give a value of the type the interface expects."
            ],
            context="this session was not converted",
        ) from None


# --- conversion options --------------------------------------------------------------------------------


def _accepted_options(interface: BaseDataInterface) -> set[str] | None:
    """Option names ``add_to_nwbfile`` takes; None when it takes any (``**kwargs``)."""
    schema = interface.get_conversion_options_schema()
    if schema.get("additionalProperties", True) is not False:
        return None
    return set(schema.get("properties", {}))


def resolve_conversion_options(converter: NWBConverter, task: SessionTask) -> dict[str, dict]:
    """The ``conversion_options`` mapping for ``converter.run_conversion``, from the global and session blocks.

    A global option goes to every interface that accepts it (NeuroConv gives it to every interface, so an
    option some interface lacks fails there). For a nested converter (e.g. ``BrandConverter``) the session's
    mapping may hold options per child (keyed by child name, e.g. a stream) and options for every child
    (any other key); per-child values win, and session values win over global ones.

    Raises
    ------
    YamlSpecificationError
        An option no interface of the session accepts, or one an interface named explicitly does not accept.
    """
    problems: list[str] = []
    used: set[tuple[str, str]] = set()
    offered: dict[tuple[str, str], None] = {}
    spec, label = task.specification, task.label

    def walk(obj: Any, inherited: dict[str, tuple[Any, str]], own: dict, path: str) -> dict:
        if isinstance(obj, NWBConverter):
            children = obj.data_interface_objects
            shared = {key: (value, path) for key, value in own.items() if key not in children}
            for key in shared:
                offered[(path, key)] = None
            resolved = {}
            for child_name, child in children.items():
                child_own = own.get(child_name, {})
                if not isinstance(child_own, dict):
                    problems.append(
                        f"{spec}: at {path}.{child_name}: options for '{child_name}' must be a mapping, got "
                        f"{child_own!r}. Fix: write them as '{{option: value}}'."
                    )
                    child_own = {}
                resolved[child_name] = walk(child, {**inherited, **shared}, child_own, f"{path}.{child_name}")
            return resolved
        accepted = _accepted_options(obj)
        options = {}
        for key, (value, origin) in inherited.items():
            if accepted is None or key in accepted:
                options[key] = value
                used.add((origin, key))
        for key in own:
            if accepted is not None and key not in accepted:
                problems.append(
                    f"{spec}: at {path}.{key}: {type(obj).__name__} does not accept the option '{key}'. "
                    f"Fix: remove it; {type(obj).__name__} accepts {sorted(accepted) or 'no options'}."
                )
        options.update({key: value for key, value in own.items() if accepted is None or key in accepted})
        return options

    global_options = {
        key: (value, "$.conversion_options") for key, value in task.global_conversion_options.items()
    }
    for key in task.global_conversion_options:
        offered[("$.conversion_options", key)] = None
    resolved = walk(converter, global_options, task.conversion_options, f"{label}.conversion_options")
    for origin, key in offered:
        if (origin, key) not in used:
            problems.append(
                f"{spec}: at {origin}.{key}: no interface of {label} accepts the option '{key}'. "
                "Fix: remove or rename it, or move it to the session's options of the interfaces that take it."
            )
    if problems:
        raise YamlSpecificationError(problems, context="this session was not converted")
    return resolved


# --- backend configuration -----------------------------------------------------------------------------


def apply_dataset_settings(configuration: Any, task: SessionTask) -> None:
    """Apply the specification's per-dataset settings to NeuroConv's default backend configuration, in place.

    Raises
    ------
    YamlSpecificationError
        A location that is not a dataset of this session's file, or settings NeuroConv rejects.
    """
    where = {
        location: f"{task.specification}: at {task.backend_configuration_origins.get(location, task.label)}"
        for location in task.backend_configuration
    }
    problems = apply_dataset_edits(configuration, task.backend_configuration, where, task.backend)
    if problems:
        raise YamlSpecificationError(problems, context="this session was not converted")


# --- where the sessions run ----------------------------------------------------------------------------


def _failed(task: SessionTask, message: str) -> SessionResult:
    return SessionResult(task.label, task.experiment, task.index, task.nwbfile_path, False, message, 0.0)


def check_execution(jobs: int, dask_scheduler: Any = None) -> None:
    """Check ``jobs`` / ``dask_scheduler`` before any work starts (see :func:`run_tasks`)."""
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive integer, got {jobs!r}.")
    if dask_scheduler is not None:
        if jobs > 1:
            raise ValueError(
                "give jobs or dask_scheduler, not both: the Dask cluster decides how many run at once."
            )
        _distributed_client_class()


def _distributed_client_class() -> type:
    try:
        from distributed import Client
    except ImportError:
        raise DaskNotInstalledError(
            "dask_scheduler needs dask.distributed, which is not installed. Fix: pip install 'neuroconv-brand[dask]' "
            "(or pip install 'dask[distributed]')."
        ) from None
    return Client


def run_tasks(tasks: Sequence[SessionTask], jobs: int = 1, dask_scheduler: Any = None) -> list[SessionResult]:
    """Convert every task; results come back in the order of ``tasks``.

    Parameters
    ----------
    tasks : sequence of SessionTask
    jobs : int
        1: one after the other in this process. N > 1: N worker processes (started with
        :data:`WORKER_START_METHOD`).
    dask_scheduler : str or distributed.Client, optional
        Submit the sessions to this Dask cluster (``"tcp://host:8786"``) instead; needs ``dask.distributed``.

    Raises
    ------
    ValueError
        ``jobs`` below 1, or both ``jobs`` > 1 and ``dask_scheduler``.
    DaskNotInstalledError
        ``dask_scheduler`` without ``dask.distributed`` installed.
    """
    check_execution(jobs, dask_scheduler)
    if dask_scheduler is not None:
        return _run_on_dask(tasks, dask_scheduler)
    if jobs == 1 or len(tasks) <= 1:
        return [convert_session(task) for task in tasks]
    return _run_in_processes(tasks, jobs)


def _run_in_processes(tasks: Sequence[SessionTask], jobs: int) -> list[SessionResult]:
    context = multiprocessing.get_context(WORKER_START_METHOD)
    results: dict[int, SessionResult] = {}
    pool = ProcessPoolExecutor(
        max_workers=min(jobs, len(tasks)), mp_context=context, initializer=install_stop_handlers
    )
    try:
        futures: dict[Future, int] = {
            pool.submit(convert_session, task): number for number, task in enumerate(tasks)
        }
        for future in as_completed(futures):
            number = futures[future]
            try:
                results[number] = future.result()
            except Exception as exc:  # the worker died, or the task could not be sent to it
                results[number] = _failed(tasks[number], _worker_failure(exc))
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: each worker removes its partial output, then the run stops
        for process in list(getattr(pool, "_processes", {}).values()):
            with contextlib.suppress(OSError):
                os.kill(process.pid, signal.SIGINT)
        with deferred_interrupts():
            pool.shutdown(wait=True, cancel_futures=True)
        raise
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return [results[number] for number in range(len(tasks))]


def _worker_failure(exc: Exception) -> str:
    message = f"the worker process failed: {type(exc).__name__}: {exc}"
    if isinstance(exc, BrokenProcessPool):
        message += (
            " It was killed (out of memory?), or it could not start: workers re-import the main script, so run "
            "it from a file and guard its entry point with 'if __name__ == \"__main__\":'."
        )
    return message


def _run_on_dask(tasks: Sequence[SessionTask], dask_scheduler: Any) -> list[SessionResult]:
    own_client = isinstance(dask_scheduler, str)
    client = (
        _distributed_client_class()(dask_scheduler, set_as_default=False) if own_client else dask_scheduler
    )
    try:
        futures = client.map(convert_session, list(tasks), pure=False)
        results = []
        for task, future in zip(tasks, futures):
            try:
                results.append(future.result())
            except Exception as exc:  # the worker died or lost the task
                results.append(_failed(task, f"the Dask task failed: {type(exc).__name__}: {exc}"))
        return results
    finally:
        if own_client:
            client.close()
