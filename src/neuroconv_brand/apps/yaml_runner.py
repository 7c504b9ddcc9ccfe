"""``run_conversion_from_yaml``: convert every session of a YAML specification in NeuroConv's layout.

Compared with NeuroConv's runner it also resolves this package's classes (and allow-listed
``package.module:Class`` names), accepts any metadata block, takes ``backend`` / ``backend_configuration``,
joins BRAND's path arguments with the data folder, names outputs after their sources, converts sessions in
parallel (processes or a Dask cluster), keeps going when a session fails, and never imports ``dandi``.
The layout is described in ``docs/yaml-specification.md``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import BrandError
from .yaml_jobs import DaskNotInstalledError, SessionResult, check_execution, run_tasks
from .yaml_specification import SessionTask, YamlSpecificationError, plan_conversion

__all__ = [
    "ConversionSummary",
    "DaskNotInstalledError",
    "SessionResult",
    "SessionsFailedError",
    "YamlSpecificationError",
    "run_conversion_from_yaml",
]


class SessionsFailedError(BrandError):
    """Raised by :meth:`ConversionSummary.raise_for_failures` when at least one session failed."""


@dataclass(frozen=True)
class ConversionSummary:
    """What a run did, session by session, in specification order.

    Attributes
    ----------
    specification_file_path : Path
    sessions : tuple of SessionResult
        Output path, ok / error message, seconds and warnings of every session.
    """

    specification_file_path: Path
    sessions: tuple[SessionResult, ...]

    @property
    def ok(self) -> bool:
        """True when every session was converted."""
        return all(result.ok for result in self.sessions)

    @property
    def succeeded(self) -> tuple[SessionResult, ...]:
        """The sessions that were converted."""
        return tuple(result for result in self.sessions if result.ok)

    @property
    def failed(self) -> tuple[SessionResult, ...]:
        """The sessions that failed."""
        return tuple(result for result in self.sessions if not result.ok)

    @property
    def skipped(self) -> tuple[SessionResult, ...]:
        """The sessions left alone because their output existed (``skip_existing``)."""
        return tuple(result for result in self.sessions if result.skipped)

    @property
    def nwbfile_paths(self) -> tuple[Path, ...]:
        """The files written."""
        return tuple(result.nwbfile_path for result in self.succeeded if not result.skipped)

    def __str__(self) -> str:
        converted = len(self.succeeded) - len(self.skipped)
        lines = [
            f"{self.specification_file_path}: {converted} of {len(self.sessions)} session(s) converted"
            + (f", {len(self.skipped)} skipped (output exists)" if self.skipped else "")
            + (f", {len(self.failed)} failed" if self.failed else "")
        ]
        for result in self.sessions:
            status = "skip  " if result.skipped else "ok    " if result.ok else "FAILED"
            lines.append(f"  {status} {result.seconds:7.1f} s  {result.label} -> {result.nwbfile_path}")
            if result.error:
                lines.extend(f"           {line}" for line in result.error.splitlines())
            if result.warnings:
                lines.append(f"           {len(result.warnings)} warning(s): " + " | ".join(result.warnings))
        return "\n".join(lines)

    def raise_for_failures(self) -> None:
        """Raise :class:`SessionsFailedError` (listing them) if any session failed."""
        if self.failed:
            raise SessionsFailedError(str(self))


def run_conversion_from_yaml(
    specification_file_path: str | os.PathLike,
    data_folder_path: str | os.PathLike | None = None,
    output_folder_path: str | os.PathLike | None = None,
    overwrite: bool = False,
    jobs: int = 1,
    dask_scheduler: Any = None,
    *,
    allowed_modules: Sequence[str] = (),
    skip_existing: bool = False,
) -> ConversionSummary:
    """Convert every session of a YAML specification to NWB.

    The specification is checked completely (JSON Schema ``yaml_specification.schema.json``, interface names,
    arguments, output names) before any session starts. Sessions are then independent: one that fails is
    reported in the summary and the others go on.

    Parameters
    ----------
    specification_file_path : path
        The YAML (or JSON) specification.
    data_folder_path : path, optional
        Relative ``file_path``, ``folder_path``, ``file_paths``, ``participant_file``, ``devices_file`` and
        ``brand_base_dir`` values are joined with it (URLs such as ``redis://`` are not). Default: the
        specification's folder.
    output_folder_path : path, optional
        Where the NWB files are written (created if missing). Default: the specification's folder.
    overwrite : bool
        Replace existing output files; without it a session whose output exists fails.
    jobs : int
        Sessions converted at once, each in its own worker process (``spawn`` start method). 1 converts them
        one after the other in this process.
    dask_scheduler : str or distributed.Client, optional
        Send the sessions to this Dask cluster (e.g. ``"tcp://10.0.0.5:8786"``) instead; its workers need
        neuroconv-brand and read the data and output paths as given. Needs the ``[dask]`` extra.
    allowed_modules : sequence of str
        Packages whose classes the specification may name as ``package.module:Class``, in addition to
        ``neuroconv`` and ``neuroconv_brand``.
    skip_existing : bool
        Leave sessions whose output file exists alone (reported as skipped), e.g. to finish a run after fixing
        the sessions that failed. Cannot be combined with ``overwrite``.

    Returns
    -------
    ConversionSummary
        Per session: output path, ok or the error, seconds, warnings. Call ``raise_for_failures()`` to turn
        a failed session into an exception.

    Raises
    ------
    YamlSpecificationError
        The specification is invalid (every problem listed with its JSON path and fix); nothing was converted.
    DaskNotInstalledError
        ``dask_scheduler`` was given without ``dask.distributed`` installed.
    ValueError
        ``jobs`` is not a positive integer, both ``jobs`` > 1 and ``dask_scheduler`` were given, or both
        ``overwrite`` and ``skip_existing``.
    """
    check_execution(jobs, dask_scheduler)
    if overwrite and skip_existing:
        raise ValueError(
            "overwrite and skip_existing exclude each other: replace existing outputs, or keep them"
        )
    tasks = plan_conversion(
        specification_file_path,
        data_folder_path=data_folder_path,
        output_folder_path=output_folder_path,
        overwrite=overwrite,
        allowed_modules=allowed_modules,
    )
    for folder in {task.nwbfile_path.parent for task in tasks}:
        folder.mkdir(parents=True, exist_ok=True)
    existing = {id(task) for task in tasks if skip_existing and task.nwbfile_path.exists()}
    todo = [task for task in tasks if id(task) not in existing]
    converted = iter(run_tasks(todo, jobs, dask_scheduler) if todo else [])
    results = [_skipped(task) if id(task) in existing else next(converted) for task in tasks]
    return ConversionSummary(Path(specification_file_path).expanduser().resolve(), tuple(results))


def _skipped(task: SessionTask) -> SessionResult:
    return SessionResult(
        task.label, task.experiment, task.index, task.nwbfile_path, True, None, 0.0, skipped=True
    )
