"""Read a YAML conversion specification, check it, and plan one :class:`SessionTask` per session.

The layout is NeuroConv's (``metadata`` / ``conversion_options`` / ``data_interfaces`` / ``experiments`` /
``sessions``) plus ``backend`` and ``backend_configuration`` at every level (see
``docs/yaml-specification.md``). Every check that needs no data source happens here, before anything is
converted, and all problems are reported together, each with its JSON path and a fix.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from neuroconv import BaseDataInterface, NWBConverter

from ..errors import BrandError
from ..nwb.input_protection import OutputIsInputError, check_output_is_not_input, same_file
from ..schemas_io import json_compatible, validate_document
from .neuroconv_registration import REGISTERED_NAMES, brand_class, brand_classes

SCHEMA_NAME = "yaml_specification"
#: Packages whose classes a specification may name as ``package.module:Class`` without being allowed explicitly.
DEFAULT_ALLOWED_MODULES: tuple[str, ...] = ("neuroconv", "neuroconv_brand")
#: ``source_data`` arguments holding one path, joined with the data folder when relative.
PATH_ARGUMENTS = frozenset({"file_path", "folder_path", "participant_file", "devices_file", "brand_base_dir"})
#: ``source_data`` arguments holding a list of paths.
PATH_LIST_ARGUMENTS = frozenset({"file_paths"})
#: What each backend's output is called: ``<name><suffix>``.
OUTPUT_SUFFIXES = {"hdf5": ".nwb", "zarr": ".nwb.zarr"}

Backend = Literal["hdf5", "zarr"]
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


class YamlSpecificationError(BrandError, ValueError):
    """The specification is wrong; :attr:`problems` lists every problem (file, JSON path, fix).

    Parameters
    ----------
    problems : list of str
        One line per problem.
    context : str
        What the problems stopped, e.g. ``"nothing was converted"``.
    """

    def __init__(self, problems: Sequence[str], context: str = "nothing was converted"):
        self.problems = list(problems)
        count = len(self.problems)
        header = f"the YAML specification has {count} problem{'s' if count != 1 else ''} ({context}):"
        super().__init__("\n".join([header, *(f"  - {problem}" for problem in self.problems)]))


class InterfaceResolutionError(BrandError, LookupError):
    """A ``data_interfaces`` entry names no usable interface or converter class."""


@dataclass(frozen=True)
class SessionTask:
    """Everything needed to convert one session, as plain picklable data (sent to worker processes).

    Attributes
    ----------
    specification : str
        The specification file, for messages.
    label : str
        The session's JSON path, e.g. ``$.experiments.cursor.sessions[0]``.
    experiment, index
        Where the session is in the specification.
    nwbfile_path : Path
        The output file (HDF5) or folder (Zarr).
    interface_classes : dict
        Interface name -> class, for the interfaces this session converts, in ``data_interfaces`` order.
    source_data : dict
        Interface name -> constructor arguments, paths joined with the data folder.
    metadata_layers : tuple of (str, dict)
        Global, experiment and session metadata with their JSON paths, applied in this order.
    global_conversion_options : dict
        The top-level options, given to every interface that accepts them.
    conversion_options : dict
        The session's options per interface name.
    backend : {"hdf5", "zarr"}
    backend_configuration : dict
        Dataset location -> settings, merged over the three levels.
    backend_configuration_origins : dict
        Dataset location -> JSON path of the most specific level that set it.
    overwrite : bool
    """

    specification: str
    label: str
    experiment: str
    index: int
    nwbfile_path: Path
    interface_classes: dict[str, type]
    source_data: dict[str, dict]
    metadata_layers: tuple[tuple[str, dict], ...]
    global_conversion_options: dict[str, Any]
    conversion_options: dict[str, dict]
    backend: Backend = "hdf5"
    backend_configuration: dict[str, dict] = field(default_factory=dict)
    backend_configuration_origins: dict[str, str] = field(default_factory=dict)
    overwrite: bool = False


# --- loading -------------------------------------------------------------------------------------------


def load_specification(specification_file_path: str | os.PathLike) -> dict:
    """Read a YAML (or JSON) specification; YAML dates become ISO 8601 text, as NeuroConv keeps them.

    Raises
    ------
    YamlSpecificationError
        If the file is missing, unreadable, not YAML, or empty.
    """
    path = Path(specification_file_path)
    if not path.is_file():
        raise YamlSpecificationError(
            [f"{path}: the specification file does not exist. Fix: give the path of a YAML specification."]
        )
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "somewhere"
        reason = getattr(exc, "problem", None) or str(exc)
        raise YamlSpecificationError(
            [f"{path}: at {where}: not valid YAML ({reason}). Fix: correct the YAML syntax there."]
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise YamlSpecificationError([f"{path}: cannot be read ({exc}). Fix: check the file."]) from None
    if document is None:
        raise YamlSpecificationError(
            [f"{path}: the file is empty. Fix: write 'data_interfaces' and 'experiments' into it."]
        )
    return json_compatible(document)


# --- interface names ---------------------------------------------------------------------------------


def _is_conversion_class(candidate: object) -> bool:
    return inspect.isclass(candidate) and issubclass(candidate, BaseDataInterface | NWBConverter)


def _neuroconv_classes() -> dict[str, type]:
    import neuroconv.converters as neuroconv_converters
    import neuroconv.datainterfaces as neuroconv_interfaces

    found = {}
    for module in (neuroconv_converters, neuroconv_interfaces):  # datainterfaces wins on a shared name
        found.update({name: value for name, value in vars(module).items() if _is_conversion_class(value)})
    return found


def _module_allowed(module_name: str, allowed: Sequence[str]) -> bool:
    return any(module_name == prefix or module_name.startswith(prefix + ".") for prefix in allowed)


def resolve_interface(reference: str, allowed_modules: Sequence[str] = ()) -> type:
    """The interface or converter class a ``data_interfaces`` value names.

    Parameters
    ----------
    reference : str
        A bare class name, looked up in this package, then ``neuroconv.datainterfaces``, then
        ``neuroconv.converters``; or ``package.module:Class`` from a module under
        :data:`DEFAULT_ALLOWED_MODULES` or ``allowed_modules``.
    allowed_modules : sequence of str
        More packages (or modules) whose classes may be named with a dotted path. A specification cannot
        allow modules itself: importing a module runs its code.

    Raises
    ------
    InterfaceResolutionError
        With what was wrong and what to do.
    """
    if ":" in reference:
        module_name, _, class_name = reference.partition(":")
        allowed = (*DEFAULT_ALLOWED_MODULES, *allowed_modules)
        if not _module_allowed(module_name, allowed):
            top = module_name.split(".")[0]
            raise InterfaceResolutionError(
                f"'{reference}' is in module '{module_name}', which is not allowed (allowed: {', '.join(allowed)}). "
                f"Fix: if you trust that package, allow it: run_conversion_from_yaml(..., allowed_modules=['{top}'])"
            )
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise InterfaceResolutionError(
                f"'{reference}': module '{module_name}' cannot be imported ({exc}). Fix: install it or correct the name"
            ) from None
        cls = getattr(module, class_name, None)
        if cls is None:
            names = [name for name, value in vars(module).items() if _is_conversion_class(value)]
            raise InterfaceResolutionError(
                f"'{reference}': module '{module_name}' has no '{class_name}'. Fix: use one of its classes"
                f"{_suggestions(class_name, names)}"
            )
    elif (
        reference in REGISTERED_NAMES
    ):  # ours win over NeuroConv's; looked up alone, NeuroConv's stay unloaded
        cls = brand_class(reference)
    else:
        known = {**_neuroconv_classes(), **brand_classes()}
        cls = known.get(reference)
        if cls is None:
            raise InterfaceResolutionError(
                f"no interface or converter is named '{reference}' in neuroconv_brand or neuroconv.datainterfaces. "
                f"Fix: correct the name{_suggestions(reference, list(known))}, or name a class of an allowed "
                "module as 'package.module:Class'"
            )
    if not _is_conversion_class(cls):
        raise InterfaceResolutionError(
            f"'{reference}' is {cls!r}, not a NeuroConv interface or converter class. Fix: name a subclass of "
            "BaseDataInterface or NWBConverter"
        )
    return cls


def _suggestions(name: str, candidates: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, candidates, n=3, cutoff=0.6)
    return f" (did you mean {', '.join(close)}?)" if close else ""


# --- source data -------------------------------------------------------------------------------------


def _join(value: str, data_folder: Path) -> str:
    if _URL.match(value):
        return value
    return str(data_folder / Path(value).expanduser())


def join_data_folder(arguments: dict, data_folder: Path) -> dict:
    """Join the path arguments of one interface with the data folder (absolute paths and URLs stay as they are).

    Path arguments are :data:`PATH_ARGUMENTS` and :data:`PATH_LIST_ARGUMENTS`; a nested converter's
    ``source_data`` mapping is joined the same way.
    """
    joined = {}
    for name, value in arguments.items():
        if name in PATH_ARGUMENTS and isinstance(value, str):
            joined[name] = _join(value, data_folder)
        elif name in PATH_LIST_ARGUMENTS and isinstance(value, list):
            joined[name] = [_join(item, data_folder) if isinstance(item, str) else item for item in value]
        elif name == "source_data" and isinstance(value, dict):
            joined[name] = {
                child: join_data_folder(child_arguments, data_folder)
                if isinstance(child_arguments, dict)
                else child_arguments
                for child, child_arguments in value.items()
            }
        else:
            joined[name] = value
    return joined


def _argument_problems(cls: type, arguments: dict) -> tuple[list[str], list[str], list[str]]:
    """(unknown, missing, accepted) constructor arguments of ``cls`` for ``arguments``."""
    parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    named = [parameter for parameter in parameters if parameter.kind in kinds]
    takes_any = any(parameter.kind is inspect.Parameter.VAR_KEYWORD for parameter in parameters)
    names = {parameter.name for parameter in named}
    unknown = [] if takes_any else [name for name in arguments if name not in names]
    missing = [p.name for p in named if p.default is inspect.Parameter.empty and p.name not in arguments]
    return unknown, missing, [parameter.name for parameter in named]


# --- output names ------------------------------------------------------------------------------------


def default_nwbfile_name(source_data: dict[str, dict]) -> str | None:
    """The stem of the session's first source path (``file_path``, ``folder_path`` or ``file_paths[0]``).

    Interfaces are taken in ``source_data`` order; URLs (``redis://...``) have no stem. None when nothing fits.
    """
    for arguments in source_data.values():
        for name in ("file_path", "folder_path"):
            value = arguments.get(name)
            if isinstance(value, str) and value and not _URL.match(value):
                return Path(value).stem if name == "file_path" else Path(value).name
        paths = arguments.get("file_paths")
        if isinstance(paths, list) and paths and isinstance(paths[0], str) and not _URL.match(paths[0]):
            return Path(paths[0]).stem
    return None


def output_file_name(name: str, backend: Backend) -> str:
    """``name`` with the backend's suffix (``.nwb`` or ``.nwb.zarr``), replacing one the user already wrote."""
    for suffix in (".nwb.zarr", ".nwb", ".zarr"):
        if name.endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
            break
    return name + OUTPUT_SUFFIXES[backend]


def _name_problem(name: str) -> str | None:
    path = Path(name)
    if path.is_absolute() or name.startswith(("/", "\\")):
        return "is an absolute path"
    if ".." in path.parts:
        return "leaves the output folder ('..')"
    return None


# --- backend configuration ---------------------------------------------------------------------------


def merge_backend_configuration(levels: Sequence[tuple[str, dict | None]]) -> tuple[dict, dict]:
    """Merge per-dataset settings, later levels winning field by field.

    Parameters
    ----------
    levels : sequence of (JSON path, mapping)
        Least specific first (global, experiment, session).

    Returns
    -------
    (dict, dict)
        Location -> settings, and location -> JSON path of the last level that set it. Leading ``/`` of a
        location is dropped (NeuroConv's locations have none).
    """
    merged: dict[str, dict] = {}
    origins: dict[str, str] = {}
    for label, level in levels:
        for location, settings in (level or {}).items():
            key = location.strip("/")
            merged.setdefault(key, {}).update(settings)
            origins[key] = f"{label}['{location}']"
    return merged, origins


# --- planning ----------------------------------------------------------------------------------------


def _problem(file_label: str, path: str, problem: str, fix: str) -> str:
    return f"{file_label}: at {path}: {problem}. Fix: {fix}."


def plan_conversion(
    specification_file_path: str | os.PathLike,
    data_folder_path: str | os.PathLike | None = None,
    output_folder_path: str | os.PathLike | None = None,
    overwrite: bool = False,
    allowed_modules: Sequence[str] = (),
) -> list[SessionTask]:
    """Load and check a specification; return one task per session, in the order they are written.

    Parameters
    ----------
    specification_file_path : path
        The YAML (or JSON) specification.
    data_folder_path : path, optional
        Relative source paths are joined with it; default: the specification's folder.
    output_folder_path : path, optional
        Where the NWB files go; default: the specification's folder.
    overwrite : bool
        Replace existing output files.
    allowed_modules : sequence of str
        More packages whose classes may be named as ``package.module:Class``.

    Raises
    ------
    YamlSpecificationError
        Listing every problem found, each with file, JSON path and fix.
    """
    spec_path = Path(specification_file_path).expanduser().resolve()
    label = str(spec_path)
    specification = load_specification(spec_path)
    schema_problems = validate_document(specification, SCHEMA_NAME, label)
    references = specification.get("data_interfaces") if isinstance(specification, dict) else None
    references = (
        {k: v for k, v in references.items() if isinstance(v, str)} if isinstance(references, dict) else {}
    )
    classes, interface_problems = _resolve_all(label, references, allowed_modules)
    if schema_problems:  # later checks need the structure the schema guarantees; names can be checked anyway
        raise YamlSpecificationError(schema_problems + interface_problems)
    if "upload_to_dandiset" in specification:
        raise YamlSpecificationError(
            [
                _problem(
                    label,
                    "$.upload_to_dandiset",
                    "uploading to DANDI is not supported yet by neuroconv-brand",
                    "remove 'upload_to_dandiset', convert, then upload the output folder with "
                    "'dandi organize' and 'dandi upload'",
                )
            ]
        )

    problems: list[str] = list(interface_problems)
    # Absolute, so that worker processes and Dask workers read the same paths whatever their directory.
    data_folder = (
        Path(data_folder_path).expanduser().resolve() if data_folder_path is not None else spec_path.parent
    )
    if not data_folder.is_dir():
        problems.append(
            f"{label}: the data folder {data_folder} does not exist. Fix: give an existing data folder (data_folder_path, --data-folder-path)."
        )
    output_folder = (
        Path(output_folder_path).expanduser().resolve()
        if output_folder_path is not None
        else spec_path.parent
    )

    tasks: list[SessionTask] = []
    targets: dict[Path, str] = {}
    for experiment_name, experiment in specification["experiments"].items():
        for index in range(len(experiment["sessions"])):
            where = _Where(specification, experiment_name, index)
            task, session_problems = _plan_session(
                label, where, classes, data_folder, output_folder, overwrite, targets
            )
            problems += session_problems
            if task is not None:
                tasks.append(task)
    problems += _outputs_onto_sources(label, tasks, spec_path)
    if problems:
        raise YamlSpecificationError(problems)
    return tasks


def _path_arguments(source_data: dict, where: str) -> dict[str, str]:
    """Every path argument of a (joined) ``source_data``, nested converters included, by JSON path."""
    found = {}
    for interface, arguments in source_data.items():
        for name, value in arguments.items() if isinstance(arguments, dict) else ():
            path = f"{where}.{interface}.{name}"
            if name in PATH_ARGUMENTS and isinstance(value, str) and not _URL.match(value):
                found[path] = value
            elif name in PATH_LIST_ARGUMENTS and isinstance(value, list):
                found.update({f"{path}[{i}]": item for i, item in enumerate(value) if isinstance(item, str)})
            elif name == "source_data" and isinstance(value, dict):
                found.update(_path_arguments(value, f"{path}"))
    return found


def _outputs_onto_sources(label: str, tasks: list[SessionTask], spec_path: Path) -> list[str]:
    """Problems for outputs that would replace a source of any session, or the specification itself."""
    sources = {"the specification": str(spec_path)}
    for task in tasks:
        for path, value in _path_arguments(task.source_data, f"{task.label}.source_data").items():
            sources[f"the source {path}"] = value
    problems = []
    for task in tasks:
        try:
            check_output_is_not_input(task.nwbfile_path, sources)
        except OutputIsInputError as error:
            fix = "give the session another 'nwbfile_name', or write to another output folder"
            problems.append(_problem(label, task.label, str(error).rstrip("."), fix))
    return problems


@dataclass(frozen=True)
class _Where:
    """One session and the levels above it."""

    specification: dict
    experiment_name: str
    index: int

    @property
    def experiment(self) -> dict:
        return self.specification["experiments"][self.experiment_name]

    @property
    def session(self) -> dict:
        return self.experiment["sessions"][self.index]

    @property
    def experiment_path(self) -> str:
        return f"$.experiments.{self.experiment_name}"

    @property
    def path(self) -> str:
        return f"{self.experiment_path}.sessions[{self.index}]"

    def levels(self, key: str) -> list[tuple[str, Any]]:
        """``key`` at the top level, the experiment and the session, least specific first, with JSON paths."""
        return [
            (f"$.{key}", self.specification.get(key)),
            (f"{self.experiment_path}.{key}", self.experiment.get(key)),
            (f"{self.path}.{key}", self.session.get(key)),
        ]


def _plan_session(
    label: str,
    where: _Where,
    classes: dict[str, type],
    data_folder: Path,
    output_folder: Path,
    overwrite: bool,
    targets: dict[Path, str],
) -> tuple[SessionTask | None, list[str]]:
    """The session's task (None when it has problems) and its problems; records its output in ``targets``."""
    session, references = where.session, where.specification["data_interfaces"]
    problems = _session_problems(label, where.path, session, references, classes)
    backend: Backend = next((value for _, value in reversed(where.levels("backend")) if value), "hdf5")
    name = session.get("nwbfile_name") or default_nwbfile_name(session["source_data"])
    name = name or f"{where.experiment_name}_{where.index}"
    name_problem = _name_problem(name)
    if name_problem:
        fix = "give a file name (or a path inside the output folder)"
        return None, [
            *problems,
            _problem(label, f"{where.path}.nwbfile_name", f"{name!r} {name_problem}", fix),
        ]
    target = output_folder / output_file_name(name, backend)
    same = next((other for other in targets if same_file(other, target)), None)
    if same is not None:
        problem = f"writes {target}, as {targets[same]} does" + (f" (as {same})" if same != target else "")
        return None, [
            *problems,
            _problem(label, where.path, problem, "give the sessions different 'nwbfile_name' values"),
        ]
    targets[target] = where.path
    source_data: dict[str, dict] = session["source_data"]
    if problems or not all(key in classes for key in source_data):
        return None, problems
    configuration, origins = merge_backend_configuration(where.levels("backend_configuration"))
    task = SessionTask(
        specification=label,
        label=where.path,
        experiment=where.experiment_name,
        index=where.index,
        nwbfile_path=target,
        interface_classes={key: classes[key] for key in references if key in source_data},
        source_data={key: join_data_folder(value, data_folder) for key, value in source_data.items()},
        metadata_layers=tuple((path, value or {}) for path, value in where.levels("metadata")),
        global_conversion_options=where.specification.get("conversion_options", {}),
        conversion_options=session.get("conversion_options", {}),
        backend=backend,
        backend_configuration=configuration,
        backend_configuration_origins=origins,
        overwrite=overwrite,
    )
    return task, []


def _resolve_all(
    label: str, references: dict[str, str], allowed_modules: Sequence[str]
) -> tuple[dict[str, type], list[str]]:
    classes: dict[str, type] = {}
    problems = []
    for name, reference in references.items():
        try:
            classes[name] = resolve_interface(reference, allowed_modules)
        except InterfaceResolutionError as exc:
            message, _, fix = str(exc).partition(". Fix: ")
            problems.append(_problem(label, f"$.data_interfaces.{name}", message, fix or "correct the name"))
    return classes, problems


def _session_problems(
    label: str, session_path: str, session: dict, references: dict[str, str], classes: dict[str, type]
) -> list[str]:
    problems = []
    source_data: dict[str, dict] = session["source_data"]
    for name, arguments in source_data.items():
        path = f"{session_path}.source_data.{name}"
        if name not in references:
            problems.append(
                _problem(
                    label,
                    path,
                    f"'{name}' is not a name in data_interfaces",
                    f"use one of {sorted(references)}{_suggestions(name, list(references))} or add '{name}' to data_interfaces",
                )
            )
            continue
        cls = classes.get(name)
        if cls is None:  # its data_interfaces entry is already reported
            continue
        unknown, missing, accepted = _argument_problems(cls, arguments)
        for argument in unknown:
            problems.append(
                _problem(
                    label,
                    f"{path}.{argument}",
                    f"{cls.__name__} takes no argument '{argument}'",
                    f"remove or rename it{_suggestions(argument, accepted)}; {cls.__name__} takes {', '.join(accepted)}",
                )
            )
        for argument in missing:
            problems.append(
                _problem(
                    label, path, f"{cls.__name__} needs the argument '{argument}'", f"add '{argument}: ...'"
                )
            )
    for name in session.get("conversion_options", {}):
        if name not in source_data:
            problems.append(
                _problem(
                    label,
                    f"{session_path}.conversion_options.{name}",
                    f"options for '{name}', which this session does not convert (it is not in its source_data)",
                    f"add '{name}' to this session's source_data, or remove its options",
                )
            )
    return problems
