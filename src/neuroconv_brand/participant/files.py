"""Load and check BRAND's participant YAML, devices YAML and per-implant array maps (docs/mechanisms/participant.md).

Participant file (``metadata`` + ``implants``; ``Metadata``/``Implants`` before 2022-07-19)::

    metadata: {participant_id: t0, cortical_implant_date: 2022-05-09}
    implants:
      - {name: array 1, location: <text>, position: [x, y, z], device: NeuroPort8x8,
         connector: <text>, serial: 1234567890, array_map: t0_array1_map.csv}

Devices file: a YAML list of ``{name, electrode_qty, description, manufacturer}``.

Array maps (``implants[*].array_map``, relative to the participant file's folder): a Blackrock Central
``.cmp`` file or a CSV ``electrode,x,y,z`` table, read by :mod:`neuroconv_brand.participant.array_maps`. A missing or
unreadable map is a warning (the implant's electrodes get no positions), never an error.

The structure of the two YAML files is checked against the shipped JSON Schemas (``participant``,
``devices``: :mod:`neuroconv_brand.schemas_io`), then what a schema cannot say (unique names, devices known).
Pure functions: no Redis, no NWB. Every problem raises :class:`MetadataFileError` naming the file, the entry
and what to do.
"""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ..errors import MetadataFileError
from ..schemas_io import validate_document
from .array_maps import UTAH_PITCH_UM, ArrayMap, ArrayMapError, read_array_map


@dataclass(frozen=True)
class DeviceInfo:
    """One entry of the devices file."""

    name: str
    electrode_qty: int
    description: str | None = None
    manufacturer: str | None = None


@dataclass(frozen=True)
class Implant:
    """One implant of the participant file.

    Attributes
    ----------
    name : str
        Becomes the electrode group name.
    device : str
        Name of the device (a devices-file entry).
    location, connector, serial : str or None
        As written in the file.
    position : tuple of float or None
        The implant's ``position: [x, y, z]``.
    array_map : Path or None
        The array map (Blackrock ``.cmp`` or CSV), resolved against the participant file's folder.
    array_pitch_um : float or None
        Electrode spacing of the ``.cmp`` grid (um); None: 400 um (Utah arrays).
    """

    name: str
    device: str
    location: str | None = None
    position: tuple[float, float, float] | None = None
    connector: str | None = None
    serial: str | None = None
    array_map: Path | None = None
    array_pitch_um: float | None = None


@dataclass(frozen=True)
class Participant:
    """The participant file's content."""

    path: Path
    participant_id: str | None
    implant_date: str | None
    metadata: dict
    implants: tuple[Implant, ...]


def load_yaml(path: str | Path, what: str) -> Any:
    """Parse a YAML file; ``what`` names it in errors ("participant file", "devices file", ...)."""
    path = Path(path)
    if not path.is_file():
        raise MetadataFileError(
            f"{what} {path} does not exist; check the path (relative paths in the graph are "
            "relative to the BRAND base directory: pass brand_base_dir or an absolute path)."
        )
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error)
        raise MetadataFileError(
            f"{what} {path}: YAML syntax error{where}: {problem}; fix the file."
        ) from None


def _check_schema(document: Any, schema: str, label: str) -> None:
    problems = validate_document(document, schema, label)
    if len(problems) == 1:
        raise MetadataFileError(problems[0])
    if problems:
        raise MetadataFileError(f"{label} has {len(problems)} problems:\n" + "\n".join(problems))


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _either(mapping: dict, key: str) -> Any:
    """``mapping[key]``, or its capitalised pre-2022-07 spelling."""
    return mapping.get(key, mapping.get(key.capitalize()))


def load_participant_file(path: str | Path) -> Participant:
    """Load and check a participant YAML.

    Raises
    ------
    MetadataFileError
        Missing file, YAML syntax error, a document the ``participant`` schema rejects (no ``implants``, an
        implant without ``name``/``location``/``device``, a ``position`` that is not three numbers, ...),
        duplicate implant names, a ``/`` in an implant name.
    """
    path = Path(path)
    data = load_yaml(path, "participant file")
    _check_schema(data, "participant", f"participant file {path}")
    metadata = _either(data, "metadata") or {}
    raw_implants = _either(data, "implants")
    implants = tuple(_implant(entry, index, path) for index, entry in enumerate(raw_implants))
    names = [implant.name for implant in implants]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise MetadataFileError(
            f"participant file {path}: implant name(s) {duplicates} appear more than once; implant names become "
            "electrode group names and must be unique."
        )
    return Participant(
        path=path,
        participant_id=_text(metadata.get("participant_id")),
        implant_date=_text(metadata.get("cortical_implant_date")),
        metadata=dict(metadata),
        implants=implants,
    )


def _implant(entry: dict, index: int, path: Path) -> Implant:
    where = f"participant file {path}: implants[{index}]"
    name = str(entry["name"])
    if "/" in name:
        raise MetadataFileError(
            f"{where}.name {name!r} contains '/', which NWB names cannot; rename the implant."
        )
    position = entry.get("position")
    if position is not None:
        position = tuple(float(value) for value in position)
    array_map = entry.get("array_map")
    if array_map is not None:
        array_map = Path(str(array_map)).expanduser()
        if not array_map.is_absolute():
            array_map = path.parent / array_map
    return Implant(
        name=name,
        device=str(entry["device"]),
        location=_text(entry.get("location")),
        position=position,
        connector=_text(entry.get("connector")),
        serial=_text(entry.get("serial")),
        array_map=array_map,
        array_pitch_um=float(entry["array_pitch_um"]) if entry.get("array_pitch_um") is not None else None,
    )


def load_devices_file(path: str | Path) -> dict[str, DeviceInfo]:
    """Load and check a devices YAML (a list of devices), keyed by device name.

    Raises
    ------
    MetadataFileError
        Missing file, YAML syntax error, a document the ``devices`` schema rejects (not a list, a device without
        ``name`` or with a missing or non-positive ``electrode_qty``, ...), duplicate names.
    """
    path = Path(path)
    data = load_yaml(path, "devices file")
    _check_schema(data, "devices", f"devices file {path}")
    devices: dict[str, DeviceInfo] = {}
    for index, entry in enumerate(data):
        name, quantity = str(entry["name"]), int(entry["electrode_qty"])
        where = f"devices file {path}: devices[{index}] ('{name}')"
        if name in devices:
            raise MetadataFileError(
                f"{where}: a device named '{name}' is already listed; device names must be unique."
            )
        devices[name] = DeviceInfo(
            name, quantity, _text(entry.get("description")), _text(entry.get("manufacturer"))
        )
    return devices


def check_implant_devices(
    participant: Participant, devices: dict[str, DeviceInfo], devices_path: str | Path
) -> None:
    """Raise :class:`MetadataFileError` for an implant whose device is not in the devices file."""
    for index, implant in enumerate(participant.implants):
        if implant.device not in devices:
            known = ", ".join(devices) or "none"
            raise MetadataFileError(
                f"participant file {participant.path}: implants[{index}].device: '{implant.device}' is not in "
                f"{Path(devices_path).name} ({devices_path}); known devices: {known}. Fix the implant's device "
                "or add the device to the devices file."
            )


@dataclass(frozen=True)
class ImplantMaps:
    """What the implants' array maps gave: one :class:`ArrayMap` or None per implant, and what went wrong.

    Attributes
    ----------
    maps : tuple
        Per implant (participant order): its map, or None (no ``array_map``, or one that could not be read).
    problems : tuple of str
        One line per named map that is missing or unreadable (the implant's electrodes get no positions).
    notes : tuple of str
        One line per map that lists fewer electrodes than the device has (those get NaN positions).
    """

    maps: tuple[ArrayMap | None, ...]
    problems: tuple[str, ...]
    notes: tuple[str, ...]


def read_implant_maps(participant: Participant, devices: dict[str, DeviceInfo]) -> ImplantMaps:
    """Read every implant's ``array_map``; a missing or unreadable one is a problem line, never an exception.

    Devices must have been checked with :func:`check_implant_devices`.
    """
    maps: list[ArrayMap | None] = []
    problems, notes = [], []
    for implant in participant.implants:
        quantity = devices[implant.device].electrode_qty
        if implant.array_map is None:
            maps.append(None)
            continue
        try:
            array_map = read_array_map(
                implant.array_map, quantity, implant.name, implant.array_pitch_um or UTAH_PITCH_UM
            )
        except ArrayMapError as error:
            maps.append(None)
            problems.append(
                f"{error}; the electrodes of implant '{implant.name}' are written without positions. Fix: put the "
                "array's map file (the Blackrock Central .cmp, or a CSV 'electrode,x,y,z') at that path, or "
                f"correct the implant's array_map in participant file {participant.path}."
            )
            continue
        maps.append(array_map)
        if len(array_map.unlisted):
            notes.append(
                f"array map {array_map.path} (implant '{implant.name}') lists {quantity - len(array_map.unlisted)} "
                f"of the device's {quantity} electrodes; channel(s) {_first(array_map.unlisted)} get NaN positions."
            )
    return ImplantMaps(tuple(maps), tuple(problems), tuple(notes))


def _first(values: np.ndarray, shown: int = 5) -> str:
    listed = ", ".join(str(value) for value in values[:shown].tolist())
    return listed + (f", ... ({len(values)} in all)" if len(values) > shown else "")


@dataclass(frozen=True)
class ElectrodeLayout:
    """The electrodes table's rows: ``electrode_qty`` rows per implant, in implant order.

    Attributes
    ----------
    implant : np.ndarray
        Index of each row's implant in ``Participant.implants``.
    index_in_array : np.ndarray
        Each row's electrode index within its implant (``0..electrode_qty-1``).
    positions : np.ndarray or None
        ``(n, 3)`` positions on the array (um) from the array maps, NaN for implants without a readable map and
        electrodes a map does not list; None when no implant's map could be read.
    labels : tuple of str or None
        The ``.cmp`` label of each row (``""`` where no ``.cmp`` map gives one); None when no ``.cmp`` was read.
    """

    implant: np.ndarray
    index_in_array: np.ndarray
    positions: np.ndarray | None
    labels: tuple[str, ...] | None = None

    def __len__(self) -> int:
        return len(self.implant)


def electrode_layout(participant: Participant, devices: dict[str, DeviceInfo]) -> ElectrodeLayout:
    """The rows of the electrodes table (devices must have been checked with :func:`check_implant_devices`).

    Warns once per implant whose array map is missing or unreadable, and once per map that lists fewer
    electrodes than its device; the conversion goes on (those electrodes get no positions).
    """
    quantities = [devices[implant.device].electrode_qty for implant in participant.implants]
    implant_of_row = np.repeat(np.arange(len(quantities)), quantities)
    index_in_array = np.concatenate([np.arange(quantity) for quantity in quantities])
    read = read_implant_maps(participant, devices)
    for line in read.problems + read.notes:
        warnings.warn(line, stacklevel=2)
    positions = labels = None
    if any(array_map is not None for array_map in read.maps):
        positions = np.concatenate(
            [
                array_map.positions if array_map is not None else np.full((quantity, 3), np.nan)
                for array_map, quantity in zip(read.maps, quantities)
            ]
        )
    if any(array_map is not None and array_map.labels is not None for array_map in read.maps):
        labels = tuple(
            label
            for array_map, quantity in zip(read.maps, quantities)
            for label in (array_map.labels if array_map is not None and array_map.labels else [""] * quantity)
        )
    return ElectrodeLayout(implant_of_row, index_in_array, positions, labels)
