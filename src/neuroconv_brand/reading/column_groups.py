"""A raw stream's samples spooled as groups of adjacent channels, one file per group.

NeuroConv chunks an ElectricalSeries 64 channels wide (``get_electrical_series_chunk_shape``). With the samples
spooled in groups of as many channels, each group's rows are stored row after row, as an uncompressed HDF5 chunk
of those channels stores them: the rows of one chunk are one byte range of one file. Writing the NWB file can
then copy them from the spool into the file inside the kernel (:mod:`~neuroconv_brand.nwb.spooled_chunks`) and a
compressed chunk is read whole into its buffer, where rows of every channel would have to be gathered chunk by
chunk. Any other read (:meth:`SpooledColumnGroups.read_rows`) joins the groups, one copy more than rows kept
whole.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..graph.stream_specs import KeySpec
from ..interruption import check_interrupted
from .spool_files import SpooledArray, SpooledFiles, rows_into

#: Channels per spooled group: the width of NeuroConv's ElectricalSeries chunks.
COLUMN_GROUP_WIDTH = 64


class SpooledColumnGroups(SpooledFiles):
    """One key's rows, ``(entries x samp, chan)``, in files of at most ``width`` adjacent channels each.

    Parameters
    ----------
    folder : Path
        Where the files go: ``<stem>.c<first channel>.bin``.
    stem : str
        The files' common name.
    key : KeySpec
        The key whose rows it holds.
    width : int
        Channels per group (the last group holds the rest).
    rows : int, optional
        The rows existing files hold; None creates the files.
    """

    def __init__(
        self, folder: Path, stem: str, key: KeySpec, width: int = COLUMN_GROUP_WIDTH, rows: int | None = None
    ):
        if width < 1:
            raise ValueError(f"width must be at least 1, not {width}")
        self.key = key
        self.dtype = key.numpy_dtype.newbyteorder("=")
        self.row_shape = (key.chan,)
        self.bounds = [(first, min(first + width, key.chan)) for first in range(0, key.chan, width)]
        self.groups = self.members = [
            SpooledArray(Path(folder) / f"{stem}.c{first}.bin", self.dtype, (stop - first,), rows)
            for first, stop in self.bounds
        ]

    @property
    def rows(self) -> int:
        """Rows appended so far."""
        return self.groups[0].rows

    @property
    def paths(self) -> list[Path]:
        """The group files, in channel order."""
        return [group.path for group in self.groups]

    def append(self, block: np.ndarray) -> None:
        """Append rows: any array whose last axis is the channels (a view is copied once, group by group)."""
        check_interrupted()
        for (first, stop), group in zip(self.bounds, self.groups):
            group.append(block[..., first:stop])

    def group_of(self, first: int, stop: int) -> SpooledArray | None:
        """The file of channels ``[first, stop)`` if they are exactly one group, else None."""
        try:
            return self.groups[self.bounds.index((first, stop))]
        except ValueError:
            return None

    def read_rows(self, start: int, stop: int, out: np.ndarray | None = None) -> np.ndarray:
        """Rows ``[start, stop)`` of every channel, as a new array or into ``out`` (see :meth:`SpooledArray.read_rows`)."""
        stop = min(stop, self.rows)
        out = rows_into(out, stop - start, self.row_shape, self.dtype)
        rows = len(out)
        if not rows:
            return out
        if len(self.groups) == 1:
            return self.groups[0].read_rows(start, stop, out)
        scratch = np.empty(rows * max(last - first for first, last in self.bounds), dtype=self.dtype)
        for (first, last), group in zip(self.bounds, self.groups):
            part = scratch[: rows * (last - first)].reshape(rows, last - first)  # contiguous, as preadv needs
            out[:, first:last] = group.read_rows(start, stop, part)
        return out

    def release(self, start: int, stop: int) -> bool:
        """Give rows ``[start, stop)`` of every group back to the file system (see :meth:`SpooledArray.release`)."""
        return all([group.release(start, stop) for group in self.groups])

    def unlink(self) -> None:
        """Close and remove every group's file."""
        for group in self.groups:
            group.close()
            group.path.unlink(missing_ok=True)
