"""Every clock of a stream's entries, kept for provenance: ``processing/brand_timestamps/<stream>_ts``."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
from hdmf.common import DynamicTable, VectorData
from neuroconv.tools.nwb_helpers import get_module
from neuroconv.utils import DeepDict
from pynwb import NWBFile

from ..reading.spool_files import ColumnReader, timeline_readers
from ..timing.clocks import monotonic_offset, redis_seconds
from ..timing.session_clocks import shared_clock_fit
from .base import STUB_ENTRIES, BrandStreamInterface
from .iterators import ComputedColumnIterator, row_ids

#: The processing module that holds the per-stream clock tables.
MODULE_NAME = "brand_timestamps"
MODULE_DESCRIPTION = (
    "Per-entry clocks of the converted BRAND streams (one table per stream, one row per Redis entry), kept so "
    "that every clock a stream carried can be recovered: the time that stamps the data in this file, the "
    "Redis entry id, the writer's CLOCK_MONOTONIC 'ts' field and every sync label."
)


#: ``compute(start, stop)``: values ``[start, stop)`` of a column.
ColumnSlice = Callable[[int, int], np.ndarray]


def _nan_slice(start: int, stop: int) -> np.ndarray:
    return np.full(stop - start, np.nan)


def _label_seconds(values: ColumnReader, present: ColumnReader, rate: float) -> ColumnSlice:
    return lambda a, b: np.where(present(a, b), values(a, b) / rate, np.nan)


def table_name(stream: str) -> str:
    """The clock table of a stream, as exportNWB named its TimeSeries: ``<stream>_ts``."""
    return f"{stream}_ts"


def label_column(label: str) -> str:
    """The column of sync label ``label``: ``sync_<label>`` (``/`` is not allowed in NWB names)."""
    return "sync_" + label.replace("/", "_")


class BrandStreamTimestampsInterface(BrandStreamInterface):
    """Keep every clock of one stream's entries: a table ``processing/brand_timestamps/<stream>_ts``.

    One row per entry written for the stream (the same entries as its data), with these columns (all times
    in seconds; fixes exportNWB's ``_ts`` series, whose ``monotonic_ts`` column was in nanoseconds and the
    others in seconds):

    ``session_time``
        The time that stamps the stream's data in this file: seconds since ``session_start_time`` on the
        interface's ``clock``, after any alignment.
    ``redis_time``
        The Redis entry id's milliseconds, as seconds since ``session_start_time`` (millisecond resolution).
    ``redis_seq``
        The entry id's sequence number (integer): orders entries written in the same millisecond.
    ``monotonic_time``
        The ``ts`` field mapped onto the session axis (offset fitted to the Redis time), seconds since
        ``session_start_time``; NaN for entries without ``ts``.
    ``monotonic_clock``
        The ``ts`` field as written: the writing machine's CLOCK_MONOTONIC in seconds; NaN where absent.
    ``sync_<label>``
        One per sync label (the graph's ``sync`` list, then any other label found in the entries): the label's
        count divided by its rate (``sync_timing_hz``), in seconds on that label's own clock (since the
        counter's zero); NaN for entries without the label. Labels the graph does not list use the default
        sync rate; their column description says so.

    Why a table and not exportNWB's TimeSeries: the clocks are parallel, differently-defined columns of the
    same entries (an integer sequence number among them), which a ``DynamicTable`` stores with a name and a
    description each (and reads as one ``pandas`` frame with ``to_dataframe()``), whereas a TimeSeries would
    force one unit on an unlabelled matrix and duplicate one clock as its timestamps.

    Parameters
    ----------
    file_path : str
        The BRAND source: a ``.rdb`` file, ``redis://host:port/db``, ``rediss://...``, or a unix socket path.
    stream_name : str
        The stream whose clocks to keep (any stream of the graph, whatever its type_nwb).
    brand_base_dir : str, optional
        The BRAND base directory (for graphs whose supergraph has no compiled stream definitions).
    derivative : str, optional
        The nickname of the exportNWB derivative whose parameters configure the export (default: the graph's).
    clock : {"sync", "monotonic", "redis"}
        The clock that stamps the stream's data (gives ``session_time``).
    on_bad_entry : {"raise", "skip"}
        Must match the stream's data interface: entries it skips are left out here too.
    redis_server_path : str, optional
        For ``.rdb`` sources: read through this redis-server instead of the direct file reader.
    verbose : bool
        Print progress.
    """

    display_name = "BRAND stream clocks"
    info = "Every clock (Redis id, monotonic ts, sync labels) of a BRAND stream's entries, for provenance."

    def _prepare(self) -> None:
        self.followed: BrandStreamInterface | None = None
        self.time_offset_s = 0.0

    def follow(self, interface: BrandStreamInterface) -> None:
        """Take ``session_time`` from ``interface`` (the stream's data interface), so aligning it moves this table."""
        if interface.spec.name != self.spec.name:
            raise ValueError(
                f"the clock table of stream '{self.spec.name}' cannot follow the interface of stream "
                f"'{interface.spec.name}'."
            )
        self.followed = interface

    @property
    def alignment_leader(self) -> BrandStreamInterface | None:
        """The followed data interface while this table has no alignment of its own."""
        return self.followed if self._aligned_timestamps is None else None

    def get_timestamps(self) -> np.ndarray:
        """``session_time``: this interface's alignment if set, else the followed data interface's times."""
        leader = self.alignment_leader
        return leader.get_timestamps() if leader is not None else super().get_timestamps()

    def shift_session_times(self, seconds: float) -> None:
        """Move the columns measured from ``session_start_time`` (``redis_time``, ``monotonic_time``) by ``seconds``.

        What a converter-level shift does besides moving ``session_time``; the stream's own clocks
        (``monotonic_clock``, ``sync_*``) are not session times and stay.
        """
        self.time_offset_s += seconds

    def earliest_time(self) -> float | None:
        """The earliest of ``session_time``, ``redis_time`` and ``monotonic_time``."""
        rows = self.entry_count
        if rows == 0:
            return None
        sources = self.clock_column_sources()
        # Entry ids only increase, so the first row holds the earliest redis_time.
        values = [sources["redis_time"][0](0, 1), sources["session_time"][0](0, rows)]
        values.append(sources["monotonic_time"][0](0, rows))
        finite = [float(np.nanmin(v)) for v in values if not np.isnan(v).all()]
        return min(finite) if finite else None

    def get_metadata(self) -> DeepDict:
        """Session metadata plus the table's description (``metadata["BrandTimestamps"][<stream>_ts]``)."""
        metadata = super().get_metadata()
        metadata["BrandTimestamps"][table_name(self.spec.name)] = dict(
            name=table_name(self.spec.name),
            description=f"Every clock of the entries of BRAND stream '{self.spec.name}', one row per entry.",
        )
        return metadata

    def get_metadata_schema(self) -> dict:
        """The base schema plus the ``BrandTimestamps`` block keyed by table name."""
        schema = super().get_metadata_schema()
        schema["properties"]["BrandTimestamps"] = {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "required": ["name"],
                "properties": {"name": {"type": "string"}, "description": {"type": "string"}},
                "additionalProperties": False,
            },
        }
        return schema

    def clock_column_sources(self) -> dict[str, tuple[ColumnSlice, str]]:
        """Every column of the table: ``name -> (compute, description)``; ``compute(start, stop)`` gives its values.

        Columns are computed slice by slice when written, from the stream's timeline files, so a long stream's
        table takes no memory of its own.
        """
        spec, start_ms = self.spec, self.session_start_ms
        timeline = self.timeline  # whole, only while the monotonic offset is fitted
        fit = shared_clock_fit(self.session, self.graph, start_ms, "monotonic", None, self.on_bad_entry)
        offset = monotonic_offset(spec, timeline, start_ms, fit)
        labels = list(timeline.sync.values) if timeline.sync is not None else []
        del timeline
        read = self.stream_pass.timeline_readers() if self.stream_pass_request() is not None else None
        if read is None:
            read = timeline_readers(self.timeline)
        session_times = self.get_timestamps()
        session_offset = self.time_offset_s
        columns: dict[str, tuple[ColumnSlice, str]] = {
            "session_time": (
                lambda a, b: session_times[a:b],
                f"Time that stamps this stream's data in the file, on the '{self.clock}' clock "
                "(seconds since session_start_time).",
            ),
            "redis_time": (
                lambda a, b: redis_seconds(read["ids"](a, b), start_ms) + session_offset,
                "Redis entry-id time (milliseconds since the Unix epoch), as seconds since session_start_time.",
            ),
            "redis_seq": (
                lambda a, b: read["ids"](a, b)[:, 1].astype(np.int64),
                "Redis entry-id sequence number: orders entries written in the same millisecond.",
            ),
        }

        def stamped(shift: float) -> ColumnSlice:
            if "monotonic" not in read or offset is None:
                return _nan_slice

            def seconds(a: int, b: int) -> np.ndarray:
                stamps = read["monotonic"](a, b)
                return np.where(stamps > 0, stamps / 1e9 + shift, np.nan)

            return seconds

        columns["monotonic_time"] = (
            stamped((offset or 0.0) + session_offset),
            f"The '{spec.time_key}' field (CLOCK_MONOTONIC) mapped onto the session axis with an offset fitted to "
            "the Redis time, seconds since session_start_time; NaN where the entry has no such field.",
        )
        columns["monotonic_clock"] = (
            stamped(0.0),
            f"The '{spec.time_key}' field as written: the writing machine's CLOCK_MONOTONIC in seconds; NaN where "
            "absent.",
        )
        for label in dict.fromkeys([*spec.sync_labels, *labels]):
            rate = spec.sync_timing.rate_of(label)
            listed = "" if label in spec.sync_labels else " (not in the graph's sync list: default sync rate)"
            description = (
                f"Sync label '{label}' divided by its rate {rate:g} Hz{listed}: seconds on the label's own clock; NaN "
                "where the entry lacks the label."
            )
            compute = (
                _label_seconds(read[f"sync:{label}"], read[f"present:{label}"], rate)
                if label in labels
                else _nan_slice
            )
            columns[label_column(label)] = (compute, description)
        return columns

    def clock_columns(self) -> dict[str, tuple[np.ndarray, str]]:
        """Every column of the table, computed in full: ``name -> (values, description)``, one value per entry."""
        rows = self.entry_count
        return {
            name: (
                np.asarray(compute(0, rows), dtype=np.float64 if name != "redis_seq" else np.int64),
                description,
            )
            for name, (compute, description) in self.clock_column_sources().items()
        }

    def add_to_nwbfile(
        self, nwbfile: NWBFile, metadata: dict | None = None, *, stub_test: bool = False
    ) -> None:
        """Add the ``<stream>_ts`` table to the ``brand_timestamps`` processing module.

        Parameters
        ----------
        nwbfile : NWBFile
            The file being built.
        metadata : dict, optional
            Metadata as from :meth:`get_metadata`, possibly edited.
        stub_test : bool
            Keep only the first entries, matching the data interfaces' stub.
        """
        metadata = metadata if metadata is not None else self.get_metadata()
        if self.entry_count == 0:
            warnings.warn(f"stream '{self.spec.name}' has no entries; no clock table written.", stacklevel=2)
            return
        rows = min(self.entry_count, STUB_ENTRIES) if stub_test else self.entry_count
        block = metadata.get("BrandTimestamps", {}).get(table_name(self.spec.name), {})
        table = DynamicTable(
            name=block.get("name", table_name(self.spec.name)),
            description=block.get("description") or f"Every clock of BRAND stream '{self.spec.name}'.",
            id=row_ids(rows),
            columns=[
                VectorData(
                    name=name,
                    description=description,
                    data=ComputedColumnIterator(
                        rows, np.int64 if name == "redis_seq" else np.float64, compute
                    ),
                )
                for name, (compute, description) in self.clock_column_sources().items()
            ],
        )
        get_module(nwbfile, MODULE_NAME, MODULE_DESCRIPTION).add(table)
