"""Read an implant's array map: a Blackrock Central map file (``.cmp``) or a CSV ``electrode,x,y,z`` table.

A participant file's implant names its map with ``array_map`` (relative to the participant file's folder). The
format is chosen by the content, not by the file's extension:

* CSV (this package's own format, also written by :mod:`neuroconv_brand.testing`): a header
  ``electrode,x,y,z`` (or ``electrode,x,y``), then one row per electrode: its 0-based index within the array
  (the order of the array's channels in BRAND's streams) and its position on the array in micrometres.
* Blackrock ``.cmp`` (the Central map file Blackrock ships with each Utah array, kept beside the participant
  YAML on BRAND rigs): lines starting with ``//``
  are comments; the first other line is a free-text description (e.g. ``Cerebus mapping``); then one line per
  electrode, whitespace-separated ``col row bank elec label``: ``col``/``row`` the 0-based grid position,
  ``bank`` a letter ``A``..``H`` (32 channels each), ``elec`` 1..32 within the bank, ``label`` the name
  Central shows (``elec17``, ``chan17``, ...). The electrode's channel within its implant is
  ``bank_index * 32 + elec - 1``; its position is ``(col * pitch, row * pitch, 0)`` um, ``pitch`` 400 um
  (Utah arrays) unless the implant sets ``array_pitch_um``. Lines may come in any order.

A file that is missing, or that cannot be read as either format, raises :class:`ArrayMapError`; the participant
layer turns it into a warning (the implant's electrodes get no positions) and ``validate`` into a problem. A map
that lists fewer electrodes than the device has is read: the unlisted electrodes have NaN positions and
:attr:`ArrayMap.unlisted` names them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import MetadataFileError

#: Electrode spacing of Utah arrays (um), used when an implant does not set ``array_pitch_um``.
UTAH_PITCH_UM = 400.0
#: Channels per Blackrock bank (a connector bank of the headstage).
CHANNELS_PER_BANK = 32
_BANKS = "ABCDEFGH"
_CMP_LINE = re.compile(r"^\s*(\d+)\s+(\d+)\s+([A-Za-z])\s+(\d+)(?:\s+(\S+))?\s*$")


class ArrayMapError(MetadataFileError):
    """An implant's array map is missing or cannot be read."""


@dataclass(frozen=True)
class ArrayMap:
    """An implant's array map, in channel order (row ``i`` is the implant's channel ``i``).

    Attributes
    ----------
    path : Path
        The file read.
    format : {"cmp", "csv"}
        Which of the two formats the content was.
    positions : np.ndarray
        ``(electrode_qty, 3)`` positions on the array (um); NaN for electrodes the map does not list.
    labels : tuple of str or None
        The ``.cmp`` label of every channel (``""`` where unlisted); None for CSV maps.
    unlisted : np.ndarray
        Channels the map does not list.
    """

    path: Path
    format: str
    positions: np.ndarray
    labels: tuple[str, ...] | None
    unlisted: np.ndarray


def read_array_map(
    path: str | Path, electrode_qty: int, implant: str, pitch_um: float = UTAH_PITCH_UM
) -> ArrayMap:
    """Read an implant's array map (``.cmp`` or CSV, by content) for a device of ``electrode_qty`` electrodes.

    Parameters
    ----------
    path : str or Path
        The map file.
    electrode_qty : int
        Electrodes (channels) of the implant's device.
    implant : str
        The implant's name, for messages.
    pitch_um : float
        Electrode spacing of a ``.cmp`` grid (um).

    Raises
    ------
    ArrayMapError
        Missing or unreadable file, a line that is neither format, a channel beyond the device, a channel
        listed twice, a file without electrodes.
    """
    path = Path(path)
    where = f"array map {path} (implant '{implant}')"
    if not path.is_file():
        raise ArrayMapError(f"{where} does not exist")
    try:
        text = path.read_bytes().decode("utf-8-sig", errors="replace")
    except OSError as error:
        raise ArrayMapError(f"{where} cannot be read: {error.strerror or error}") from None
    lines = [
        (number, line.strip())
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.lstrip().startswith("//")
    ]
    if not lines:
        raise ArrayMapError(f"{where} holds no electrodes (only comments or blank lines)")
    if lines[0][1].replace(" ", "").lower().startswith("electrode,"):
        channels, positions, labels = _csv_rows(lines, electrode_qty, where)
        map_format = "csv"
    else:
        channels, positions, labels = _cmp_rows(lines, electrode_qty, where, pitch_um)
        map_format = "cmp"
    counts = np.bincount(channels, minlength=electrode_qty)
    if (counts > 1).any():
        twice = np.flatnonzero(counts > 1)
        raise ArrayMapError(f"{where}: channel(s) {twice.tolist()} are listed more than once")
    table = np.full((electrode_qty, 3), np.nan)
    table[channels] = positions
    names = None
    if labels is not None:
        by_channel = [""] * electrode_qty
        for channel, label in zip(channels.tolist(), labels):
            by_channel[channel] = label
        names = tuple(by_channel)
    return ArrayMap(path, map_format, table, names, np.flatnonzero(counts == 0))


def _csv_rows(
    lines: list[tuple[int, str]], electrode_qty: int, where: str
) -> tuple[np.ndarray, np.ndarray, None]:
    header = [cell.strip().lower() for cell in lines[0][1].split(",")]
    if header not in (["electrode", "x", "y", "z"], ["electrode", "x", "y"]):
        raise ArrayMapError(
            f"{where}: the CSV header must be 'electrode,x,y,z' (or 'electrode,x,y'), got {lines[0][1]!r}"
        )
    width = len(header)
    rows = []
    for number, line in lines[1:]:
        cells = line.split(",")
        try:
            values = [float(cell) for cell in cells]
        except ValueError:
            values = []
        if len(values) != width:
            raise ArrayMapError(
                f"{where}: line {number} {line!r}: every row must hold {width} numbers ({','.join(header)})"
            )
        if values[0] != round(values[0]) or not 0 <= values[0] < electrode_qty:
            raise ArrayMapError(
                f"{where}: line {number} {line!r}: the electrode index must be an integer in 0..{electrode_qty - 1} "
                f"(the device has {electrode_qty} electrodes)"
            )
        rows.append(values + [0.0] * (4 - width))
    if not rows:
        raise ArrayMapError(f"{where} holds no electrodes (a header and no rows)")
    table = np.array(rows, dtype=np.float64)
    return table[:, 0].astype(np.int64), table[:, 1:], None


def _cmp_rows(
    lines: list[tuple[int, str]], electrode_qty: int, where: str, pitch_um: float
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    if _CMP_LINE.match(lines[0][1]) is None:
        lines = lines[1:]  # the description line (e.g. "Cerebus mapping")
    channels, grid, labels = [], [], []
    for number, line in lines:
        match = _CMP_LINE.match(line)
        if match is None:
            raise ArrayMapError(
                f"{where}: line {number} {line!r} is not an electrode line 'col row bank elec label' (a Blackrock "
                "Central .cmp map), nor is the file a CSV map with the header 'electrode,x,y,z'"
            )
        col, row, bank, elec, label = match.groups()
        bank_index = _BANKS.find(bank.upper())
        if bank_index < 0 or not 1 <= int(elec) <= CHANNELS_PER_BANK:
            raise ArrayMapError(
                f"{where}: line {number} {line!r}: the bank must be a letter A..H and elec 1..{CHANNELS_PER_BANK}"
            )
        channel = bank_index * CHANNELS_PER_BANK + int(elec) - 1
        if channel >= electrode_qty:
            raise ArrayMapError(
                f"{where}: line {number} {line!r}: bank {bank.upper()} elec {elec} is channel {channel}, beyond the "
                f"device's {electrode_qty} electrodes; check the implant's device or its array_map"
            )
        channels.append(channel)
        grid.append((int(col), int(row)))
        labels.append(label or "")
    if not channels:
        raise ArrayMapError(f"{where} holds no electrodes (a description line and no electrode lines)")
    positions = np.zeros((len(grid), 3), dtype=np.float64)
    positions[:, :2] = np.array(grid, dtype=np.float64) * float(pitch_um)
    return np.array(channels, dtype=np.int64), positions, labels
