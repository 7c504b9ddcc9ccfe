"""Write electrode rows into a file's electrodes table, whether it is new or shared with other interfaces.

NeuroConv's electrode writer identifies a row by ``group_name`` + ``channel_name`` and fills the columns it
does not know with a null value chosen by type (``""`` for text, NaN for floats, ``[]`` for ragged columns).
:func:`add_electrode_rows` follows the same rules in the other direction, so the participant's rows and those
of a stock NeuroConv recording interface share one table in either order: rows that both sides describe are
written once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from hdmf.common import VectorData, VectorIndex
from pynwb import NWBFile
from pynwb.ecephys import ElectrodeGroup, ElectrodesTable

from ..errors import BrandError

#: The description NeuroConv gives ``channel_name`` (the key it matches rows by, with ``group_name``).
CHANNEL_NAME_DESCRIPTION = "unique channel reference"


@dataclass(frozen=True)
class ElectrodeColumnValues:
    """The values of one electrodes-table column for the rows being written."""

    description: str
    data: Sequence | np.ndarray


def null_value(column_name: str, sample: Any, table_description: str = "the electrodes table") -> Any:
    """The value NeuroConv would write in ``column_name`` for a row that has none (``sample``: a value of it).

    Raises
    ------
    BrandError
        For a column type without a natural null value (bool, int, ...).
    """
    sample = sample.item() if isinstance(sample, np.generic) else sample
    if isinstance(sample, str | bytes):
        return ""
    if isinstance(sample, float):
        return np.nan
    if isinstance(sample, list | tuple | np.ndarray):
        return []
    raise BrandError(
        f"{table_description} has a column '{column_name}' of type {type(sample).__name__}, which has no null value "
        "for the rows BrandParticipantInterface adds; store it as float (NaN = unknown) or text, or add "
        "BrandParticipantInterface before the interface that writes it."
    )


def add_electrode_rows(
    nwbfile: NWBFile, groups: Sequence[ElectrodeGroup], columns: Mapping[str, ElectrodeColumnValues]
) -> np.ndarray:
    """Write electrode rows (one per entry of ``groups``) and return the table row of each.

    ``columns`` must hold ``location``, ``group_name`` and ``channel_name``; the others are optional. Without an
    electrodes table a new one is made. With one, rows whose ``(group_name, channel_name)`` is already there are
    reused (their values are kept, except placeholders such as NeuroConv's ``"unknown"`` location, ``""`` and NaN,
    which get this call's values; so do columns the table lacks), the others are appended, and columns only one
    side has are filled with null values on the other side's rows.
    """
    group = ElectrodeColumnValues(
        "a reference to the ElectrodeGroup this electrode is a part of", list(groups)
    )
    all_columns = {"location": columns["location"], "group": group, **columns}
    if nwbfile.electrodes is None:
        nwbfile.electrodes = ElectrodesTable(
            id=np.arange(len(groups)),
            columns=[
                VectorData(name=name, description=c.description, data=c.data)
                for name, c in all_columns.items()
            ],
        )
        return np.arange(len(groups))
    table = nwbfile.electrodes
    _ensure_match_columns(nwbfile)
    existing = {
        (str(group), str(channel)): row
        for row, (group, channel) in enumerate(
            zip(table["group_name"].data[:], table["channel_name"].data[:])
        )
    }
    keys = zip(
        np.asarray(columns["group_name"].data, dtype=str), np.asarray(columns["channel_name"].data, dtype=str)
    )
    rows = np.array([existing.get(key, -1) for key in keys], dtype=np.int64)
    _fill_unset_values(table, rows, all_columns)
    missing = np.flatnonzero(rows < 0)
    if len(missing):
        shared = [name for name in all_columns if name in table.colnames]
        nulls = {name: _column_null(table, name) for name in table.colnames if name not in all_columns}
        for index in missing:
            values = {name: all_columns[name].data[index] for name in shared}
            nwbfile.add_electrode(**nulls, **values, enforce_unique_id=True)
        rows[missing] = np.arange(len(table) - len(missing), len(table))
    for name, values in all_columns.items():
        if name in table.colnames:
            continue
        data = [null_value(name, values.data[0])] * len(table)
        for index, row in enumerate(rows):
            data[row] = values.data[index]
        nwbfile.add_electrode_column(name=name, description=values.description, data=data)
    return rows


def _ensure_match_columns(nwbfile: NWBFile) -> None:
    """Give an existing table the ``group_name``/``channel_name`` columns rows are matched by (as NeuroConv does)."""
    table = nwbfile.electrodes
    if "group_name" not in table.colnames:
        nwbfile.add_electrode_column(
            name="group_name",
            description="the name of the ElectrodeGroup this electrode is a part of",
            data=[group.name for group in table["group"].data[:]],
        )
    if "channel_name" not in table.colnames:
        # NeuroConv's own default for rows written without a channel name: the row id as text.
        nwbfile.add_electrode_column(
            name="channel_name", description=CHANNEL_NAME_DESCRIPTION, data=[str(i) for i in table.id.data[:]]
        )


def _fill_unset_values(
    table: ElectrodesTable, rows: np.ndarray, columns: Mapping[str, ElectrodeColumnValues]
) -> None:
    """Give matched rows this call's value where theirs is a placeholder (NeuroConv's "unknown" location, "", NaN)."""
    for name, values in columns.items():
        if name in ("group", "group_name", "channel_name") or name not in table.colnames:
            continue
        data = table[name].data
        if not isinstance(data, list):
            continue  # a column read from a file: left as written
        for index, row in enumerate(rows):
            if row >= 0 and _is_unset(data[row]):
                data[row] = values.data[index]


def _is_unset(value: Any) -> bool:
    if isinstance(value, str | bytes):
        return value in ("", "unknown", b"", b"unknown")
    return isinstance(value, float | np.floating) and bool(np.isnan(value))


def _column_null(table: ElectrodesTable, name: str) -> Any:
    column = table[name]
    if isinstance(column, VectorIndex):
        return []
    return null_value(name, column.data[0])
