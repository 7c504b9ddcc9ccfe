"""Check the files a BRAND conversion reads before converting: graph, node YAMLs, participant, devices, spec.

Each ``check_*`` function returns one :class:`FileReport` per file, listing *every* problem as one line
``"<file label>: at <JSON path>: <problem>. Fix: <what to do>."`` (the format of
:func:`~neuroconv_brand.schemas_io.validate_document`). Structural checks come from the JSON Schemas
``node_streams``, ``export_parameters``, ``participant``, ``devices`` and ``yaml_specification``; the few
rules a schema cannot express (one Trial key carries the trial settings, a SpikeTimes stream names its
crossings key, implants name known devices) are checked here. Warnings are notes that do not fail a file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import BrandError, GraphError
from ..graph.eras import find_export_derivative, normalize_derivatives
from ..mechanisms.crossings import named_crossings
from ..mechanisms.position import SPATIAL_SERIES_SETTINGS, split_nwb_block
from ..mechanisms.trial_definition import state_key_name, trial_settings_carriers
from ..participant.files import (
    DeviceInfo,
    Participant,
    check_implant_devices,
    load_devices_file,
    load_participant_file,
    load_yaml,
    read_implant_maps,
)
from ..schemas_io import validate_document

#: Stream-definition entries that are settings, not key blocks (exportNWB skips the same names).
#: Names jsonschema writes as ``.name`` in a JSON path (others as ``['name']``).
_PLAIN_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_STREAM_SETTINGS = frozenset({"enable_nwb", "type_nwb", "sync", "source_nickname", "last_id"})


@dataclass
class FileReport:
    """What the validator found in one file.

    Attributes
    ----------
    path : Path
        The checked file.
    errors : list of str
        One line per problem (file, JSON path, problem, fix); any error makes the file invalid.
    warnings : list of str
        Notes that do not make the file invalid (same line format).
    """

    path: Path
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the file has no errors (warnings allowed)."""
        return not self.errors


def _line(label: str, path: str, problem: str, fix: str) -> str:
    return f"{label}: at {path}: {problem}. Fix: {fix}."


def _json_path(parts: Iterable[str | int]) -> str:
    """The JSON path of ``parts``, spelled as jsonschema spells ``ValidationError.json_path``."""
    text = "$"
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _PLAIN_NAME.match(part):
            text += f".{part}"
        else:
            escaped = part.replace("\\", "\\\\").replace("'", "\\'")
            text += f"['{escaped}']"
    return text


def _problem_lines(error: BrandError) -> list[str]:
    """The problem lines of a loader's error (loaders put several problems after a ``has N problems:`` line)."""
    lines = str(error).splitlines()
    return lines[1:] if len(lines) > 1 else lines


# --- node YAMLs ----------------------------------------------------------------------------------------


def _outputs(document: Any) -> tuple[list[str], Mapping[str, Any]]:
    """Return the JSON path parts and the mapping of a node YAML's stream definitions (either layout)."""
    streams = document.get("RedisStreams") if isinstance(document, dict) else None
    if not isinstance(streams, dict):
        return [], {}
    if isinstance(streams.get("Outputs"), dict):
        return ["RedisStreams", "Outputs"], streams["Outputs"]
    value = streams.get("value")
    if isinstance(value, dict) and isinstance(value.get("Outputs"), dict):
        return ["RedisStreams", "value", "Outputs"], value["Outputs"]
    return [], {}


def check_node_yaml(path: str | Path) -> FileReport:
    """Check the stream definitions of a node YAML against ``node_streams.schema.json`` and the mechanism rules.

    Besides the schema, per stream: a SpikeTimes stream must name its crossings key (``nwb: {crossings:
    <key>}``) on an exported key; a Trial stream needs exactly one exported key carrying the trial settings,
    and its ``trial_state`` (default ``state``, as exportNWB hard-codes) must be a declared key. A Position
    key's ``nwb`` entry that is no SpatialSeries argument is a warning (it goes to the series' comments).

    Parameters
    ----------
    path : str or Path
        The node YAML (``<module>/nodes/<name>/<name>.yaml``).

    Returns
    -------
    FileReport
    """
    path = Path(path)
    report, document = _load_for_report(path, "node YAML")
    if report.errors:
        return report
    label = f"node YAML {path}"
    report.errors += validate_document(document, "node_streams", label)
    prefix, outputs = _outputs(document)
    for stream, definition in outputs.items():
        if not isinstance(definition, dict):
            continue
        where = [*prefix, stream]
        keys = {
            name: block
            for name, block in definition.items()
            if name not in _STREAM_SETTINGS and isinstance(block, dict)
        }
        exported = {name: block for name, block in keys.items() if isinstance(block.get("nwb"), dict)}
        mechanism = definition.get("type_nwb")
        if mechanism == "Position":
            report.warnings += _position_notes(label, where, exported)
        elif mechanism in ("SpikeTimes", "Spike_Times"):
            report.errors += _spike_times_problems(label, where, keys, exported)
        elif mechanism == "Trial":
            report.errors += _trial_problems(label, where, keys, exported)
    return report


def _position_notes(label: str, where: list[str], exported: Mapping[str, dict]) -> list[str]:
    known = ", ".join(SPATIAL_SERIES_SETTINGS)
    notes = []
    for key, block in exported.items():
        _, extra, _ = split_nwb_block(block["nwb"])
        for name in extra:
            notes.append(
                _line(
                    label,
                    _json_path([*where, key, "nwb", name]),
                    f"'{name}' is not a SpatialSeries argument ({known}); it is kept in the series' comments",
                    "remove it, or move it under 'comments:' to keep it on purpose",
                )
            )
    return notes


def _spike_times_problems(
    label: str, where: list[str], keys: Mapping[str, dict], exported: Mapping[str, dict]
) -> list[str]:
    named = named_crossings({key: block["nwb"] for key, block in exported.items()})
    if not named:
        return [
            _line(
                label,
                _json_path(where),
                "no exported key's nwb block names the crossings key",
                "add 'nwb: {crossings: <key>}' to the key holding the threshold crossings, e.g. "
                "'crossings: {..., nwb: {crossings: crossings}}'",
            )
        ]
    return [
        _line(
            label,
            _json_path([*where, key, "nwb", "crossings"]),
            f"names key '{target}', which the stream does not declare (declared: {', '.join(keys) or 'none'})",
            "name a key of this stream",
        )
        for key, target in named
        if isinstance(target, str) and target not in keys
    ]


def _trial_problems(
    label: str, where: list[str], keys: Mapping[str, dict], exported: Mapping[str, dict]
) -> list[str]:
    carriers = trial_settings_carriers({key: block["nwb"] for key, block in exported.items()})
    if not carriers:
        return [
            _line(
                label,
                _json_path(where),
                "no exported key's nwb block defines the trials (start_trial_indicators, end_trial_indicators)",
                "add them to the state key, e.g. 'nwb: {trial_state: state, start_trial_indicators: "
                "[start_time], end_trial_indicators: [end_time]}'",
            )
        ]
    if len(carriers) > 1:
        return [
            _line(
                label,
                _json_path(where),
                f"keys {', '.join(carriers)} all carry trial settings",
                "keep the trial settings on one key (the state key)",
            )
        ]
    key = carriers[0]
    block = exported[key]["nwb"]
    state_key = state_key_name(block) if isinstance(block.get("trial_state", ""), str) else None
    if state_key is not None and state_key not in keys:
        return [
            _line(
                label,
                _json_path([*where, key, "nwb", "trial_state"]),
                f"the state key '{state_key}' is not declared in the stream (declared: {', '.join(keys) or 'none'})"
                + (
                    "; without trial_state exportNWB reads the key 'state'"
                    if "trial_state" not in exported[key]["nwb"]
                    else ""
                ),
                "set 'trial_state: <key>' to the key holding the task state",
            )
        ]
    return []


# --- graph ---------------------------------------------------------------------------------------------


def _derivative_path(document: dict, settings: dict) -> list[str | int]:
    """JSON path parts of the exportNWB derivative ``settings`` inside the graph document."""
    derivatives = document.get("derivatives")
    if isinstance(derivatives, dict):
        for key, value in derivatives.items():
            if value is settings:
                return ["derivatives", key]
    if isinstance(derivatives, list):
        for index, item in enumerate(derivatives):
            if item is settings:
                return ["derivatives", index]
            if isinstance(item, dict) and len(item) == 1:
                key, value = next(iter(item.items()))
                if value is settings:
                    return ["derivatives", index, key]
    return ["derivatives"]


def check_graph(path: str | Path, derivative: str | None = None) -> FileReport:
    """Check a graph YAML's exportNWB derivative parameters against ``export_parameters.schema.json``.

    Parameters
    ----------
    path : str or Path
        The graph YAML.
    derivative : str, optional
        The derivative's key, nickname or name; default: the one named ``exportNWB``/``exportNWB.py``.

    Returns
    -------
    FileReport
    """
    path = Path(path)
    report, document = _load_for_report(path, "graph")
    if report.errors:
        return report
    label = f"graph {path}"
    if not isinstance(document, dict):
        report.errors.append(
            _line(
                label,
                "$",
                "the graph is not a mapping",
                "write the graph as a YAML mapping with 'nodes' and 'derivatives'",
            )
        )
        return report
    try:
        found = find_export_derivative(normalize_derivatives(document), derivative)
    except GraphError as error:
        fix = "pass --derivative <one of them>" if "several" in str(error) else "fix 'derivatives'"
        report.errors.append(_line(label, "$.derivatives", str(error), fix))
        return report
    if found is None:
        report.errors.append(
            _line(
                label,
                "$.derivatives",
                "the graph has no exportNWB derivative",
                "add a derivative with 'nickname: exportNWB' and its parameters, or pass --derivative <its nickname>",
            )
        )
        return report
    _, settings = found
    where = _derivative_path(document, settings)
    parameters = settings.get("parameters")
    if parameters is None:
        report.errors.append(
            _line(
                label,
                _json_path(where),
                "the exportNWB derivative has no 'parameters'",
                "add 'parameters:' with participant_file, description, sync_key, time_key and streams",
            )
        )
        return report
    prefix = _json_path([*where, "parameters"])
    for line in validate_document(parameters, "export_parameters", label):
        report.errors.append(line.replace(f"{label}: at $", f"{label}: at {prefix}", 1))
    return report


# --- participant and devices ---------------------------------------------------------------------------


def check_participant_files(
    participant_path: str | Path | None, devices_path: str | Path | None
) -> list[FileReport]:
    """Check a participant file and a devices file, each against its schema, then each other.

    Every implant whose ``device`` is not in the devices file is reported on the participant file; when all
    devices are known, so is every array map that is missing or unreadable (a warning for one that lists fewer
    electrodes than its device).

    Parameters
    ----------
    participant_path, devices_path : str or Path or None
        The files; either may be None (then it is not checked, nor cross-checked).

    Returns
    -------
    list of FileReport
        The participant file's report first, then the devices file's (for the files given).
    """
    reports: list[FileReport] = []
    participant: Participant | None = None
    devices: dict[str, DeviceInfo] | None = None
    if participant_path is not None:
        report = FileReport(Path(participant_path))
        try:
            participant = load_participant_file(participant_path)
        except BrandError as error:
            report.errors += _problem_lines(error)
        reports.append(report)
    if devices_path is not None:
        report = FileReport(Path(devices_path))
        try:
            devices = load_devices_file(devices_path)
        except BrandError as error:
            report.errors += _problem_lines(error)
        reports.append(report)
    if participant is not None and devices:
        unknown = _unknown_devices(participant, devices, Path(devices_path))
        reports[0].errors += unknown
        if not unknown:
            maps = read_implant_maps(participant, devices)
            reports[0].errors += maps.problems
            reports[0].warnings += maps.notes
    return reports


def _unknown_devices(
    participant: Participant, devices: dict[str, DeviceInfo], devices_path: Path
) -> list[str]:
    """Every implant whose device is unknown (``check_implant_devices`` stops at the first one)."""
    problems = []
    placeholder = next(iter(devices))
    for index, implant in enumerate(participant.implants):
        # Check the implant alone at its own index: the implants before it get a known device.
        alone = (replace(other, device=placeholder) for other in participant.implants[:index])
        try:
            check_implant_devices(replace(participant, implants=(*alone, implant)), devices, devices_path)
        except BrandError as error:
            problems.append(str(error))
    return problems


# --- YAML specification and NWB file ---------------------------------------------------------------------


def check_specification(path: str | Path) -> FileReport:
    """Check a YAML specification as ``run-yaml`` would before converting (schema, interfaces, sessions).

    Parameters
    ----------
    path : str or Path
        The specification; relative source paths are joined with its folder.

    Returns
    -------
    FileReport
    """
    from .yaml_specification import YamlSpecificationError, plan_conversion

    path = Path(path)
    report = FileReport(path)
    try:
        plan_conversion(path, overwrite=True)
    except YamlSpecificationError as error:
        report.errors += error.problems
    except BrandError as error:
        report.errors.append(str(error))
    return report


def inspect_nwb(path: str | Path) -> FileReport:
    """Run nwbinspector (DANDI configuration) on an NWB file; best-practice violations and worse are errors.

    Parameters
    ----------
    path : str or Path
        The NWB file.

    Returns
    -------
    FileReport
    """
    from nwbinspector import Importance, inspect_nwbfile, load_config

    path = Path(path)
    report = FileReport(path)
    label = f"NWB file {path}"
    messages = inspect_nwbfile(
        nwbfile_path=path,
        config=load_config("dandi"),
        importance_threshold=Importance.BEST_PRACTICE_VIOLATION,
    )
    for message in messages:
        if message is None:
            continue
        where = message.location or "/"
        if message.importance is Importance.ERROR:  # the file could not be read, or a check crashed
            # The message is a traceback: keep its last line (the exception) to stay on one line.
            lines = [line.strip() for line in str(message.message).splitlines() if line.strip()]
            problem = f"nwbinspector could not check it: {lines[-1] if lines else 'unknown error'}"
            fix = "check that this is a complete NWB file (HDF5 or Zarr) from a finished conversion"
        else:
            text = " ".join(str(message.message).split())
            problem = f"{text} [{message.importance.name}, {message.check_function_name}]"
            fix = f"see nwbinspector's best practice for {message.check_function_name} and correct the conversion or metadata"
        line = _line(label, where, problem, fix)
        if message.importance.value >= Importance.BEST_PRACTICE_VIOLATION.value:
            report.errors.append(line)
        else:
            report.warnings.append(line)
    return report


def _load_for_report(path: Path, kind: str) -> tuple[FileReport, object]:
    """A fresh report of ``path`` and the YAML document it holds (None, with the error reported, if unreadable)."""
    report = FileReport(path)
    try:
        return report, load_yaml(path, kind)
    except BrandError as error:
        report.errors.append(str(error))
        return report, None
