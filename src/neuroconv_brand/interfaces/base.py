"""The common base of every BRAND stream interface: source sharing, the stream's timeline, and time alignment."""

from __future__ import annotations

import uuid
import warnings
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
from neuroconv import BaseTemporalAlignmentInterface
from neuroconv.utils import DeepDict

from ..errors import GraphError
from ..graph.stream_specs import KeySpec, StreamSpec
from ..nwb.zarr_references import JsonZarrReferencesMixin
from ..reading.decoding import OnBadEntry
from ..reading.stream_reader import EntryBatch, StreamReader
from ..reading.stream_spool import StreamPass, session_spool
from ..sources.session import find_stream_spec, open_session_graph
from ..timing.clocks import (
    Clock,
    EntryTimes,
    sample_rate,
    sample_times,
    series_timing,
    session_start_datetime,
)
from ..timing.session_clocks import session_entry_times, spools_by_default
from ..timing.session_start import session_start_ms
from .iterators import StreamKeyIterator

#: Entries written per stream with ``stub_test=True``.
STUB_ENTRIES = 1000


class BrandStreamInterface(JsonZarrReferencesMixin, BaseTemporalAlignmentInterface):
    """Base class of the interfaces that convert one BRAND stream.

    Subclasses set :attr:`type_nwb` and implement ``get_metadata`` / ``add_to_nwbfile``. Timestamps of a
    stream interface are **entry** times (one per Redis entry) in seconds since ``session_start_time``;
    multi-sample entries are unrolled when written.

    Parameters
    ----------
    file_path : str
        The BRAND source: a ``.rdb`` file, ``redis://host:port/db``, ``rediss://...``, or a unix socket path.
        Named ``file_path`` so that NeuroConv's YAML runner joins it with the data folder.
    stream_name : str
        The stream to convert, as named in the graph.
    brand_base_dir : str, optional
        The BRAND base directory, needed when the supergraph does not carry compiled stream definitions
        (graphs before 2025) so node YAMLs can be read.
    derivative : str, optional
        The nickname of the exportNWB derivative whose parameters configure the export (a graph may publish
        several); default: the graph's exportNWB derivative.
    clock : {"sync", "monotonic", "redis"}
        What stamps the entries (see :mod:`neuroconv_brand.timing.clocks`).
    on_bad_entry : {"raise", "skip"}
        Entries whose payload does not match the declared shape: raise, or drop them with a warning.
    redis_server_path : str, optional
        For ``.rdb`` sources: read through this redis-server instead of the direct file reader.
    verbose : bool
        Print progress.
    """

    type_nwb: ClassVar[str] = ""
    #: Whether the stream's pass spools its numeric keys. True for interfaces that write data; None takes the
    #: stream's default (see :func:`~neuroconv_brand.timing.session_clocks.spools_by_default`).
    spools_data: ClassVar[bool | None] = None
    keywords = ("BRAND", "brain-computer interface", "Redis")
    associated_suffixes = (".rdb",)

    def __init__(
        self,
        file_path: str | Path,
        stream_name: str,
        brand_base_dir: str | Path | None = None,
        derivative: str | None = None,
        clock: Literal["sync", "monotonic", "redis"] = "sync",
        on_bad_entry: Literal["raise", "skip"] = "raise",
        redis_server_path: str | Path | None = None,
        verbose: bool = False,
    ):
        super().__init__(
            file_path=file_path,
            stream_name=stream_name,
            brand_base_dir=brand_base_dir,
            derivative=derivative,
            clock=clock,
            on_bad_entry=on_bad_entry,
            redis_server_path=redis_server_path,
            verbose=verbose,
        )
        self.session, self.graph = open_session_graph(
            self, file_path, brand_base_dir, derivative, redis_server_path
        )
        self.spec: StreamSpec = self._find_spec(stream_name)
        self.clock: Clock = clock
        self.on_bad_entry: OnBadEntry = on_bad_entry
        self._timeline: EntryBatch | None = None
        self._entry_times: EntryTimes | None = None
        self._aligned_timestamps: np.ndarray | None = None
        self._prepare()

    def _prepare(self) -> None:
        """Hook for subclasses: read and check what they need from ``self.spec`` at construction."""

    def _find_spec(self, stream_name: str) -> StreamSpec:
        spec = find_stream_spec(self.session, self.graph, stream_name)
        if self.type_nwb and spec.type_nwb != self.type_nwb:
            raise GraphError(
                f"stream '{stream_name}' has type_nwb {spec.type_nwb!r}; {type(self).__name__} converts "
                f"{self.type_nwb} streams."
            )
        return spec

    @property
    def session_start_ms(self) -> int:
        """``session_start_time`` in Unix milliseconds (see :func:`session_start_ms`)."""
        return session_start_ms(self.session, self.graph)

    def get_metadata(self) -> DeepDict:
        """Session-level metadata: start time from the Redis ids, description from the graph."""
        metadata = super().get_metadata()
        metadata["NWBFile"]["session_start_time"] = session_start_datetime(self.session_start_ms)
        metadata["NWBFile"]["session_description"] = self.graph.description or "BRAND session"
        metadata["NWBFile"].setdefault("identifier", str(uuid.uuid4()))
        if self.graph.graph_name:
            metadata["NWBFile"]["session_id"] = self.graph.graph_name
        return metadata

    # --- the stream's timeline: ids, sync labels and monotonic stamps of every entry (one pass) ---

    def stream_pass_request(self) -> tuple[StreamSpec, OnBadEntry, bool] | None:
        """What this interface reads of its stream, for reading several streams at once (see ``read_ahead``)."""
        spool = self.spools_data
        if spool is None:
            spool = spools_by_default(self.graph, self.spec)
        return self.spec, self.on_bad_entry, spool

    @property
    def stream_pass(self) -> StreamPass:
        """The session's one read of this stream, with its timeline and (for data interfaces) its spooled keys."""
        spec, on_bad_entry, spool = self.stream_pass_request()
        return session_spool(self.session).stream_pass(spec, on_bad_entry, spool)

    def _read_timeline(self, fresh: bool = False) -> EntryBatch:
        if fresh:
            # Re-read from the source (NeuroConv's contract for get_original_timestamps); in skip mode the
            # exported keys are decoded too, so that the same entries are left out.
            keys = list(self.spec.exported_keys) if self.on_bad_entry == "skip" else []
            batch = StreamReader(
                self.session.source, self.spec, keys=keys, on_bad_entry=self.on_bad_entry
            ).read()
            return EntryBatch(batch.stream, batch.ids, {}, batch.sync, batch.monotonic_ns)
        return self.stream_pass.timeline

    def _compute_entry_times(self, timeline: EntryBatch, clock: Clock | None = None) -> EntryTimes:
        """Entry times on ``clock`` (default: the interface's), with the session's shared clock fit."""
        return session_entry_times(
            self.session,
            self.graph,
            self.spec,
            timeline,
            clock or self.clock,
            self.session_start_ms,
            self.on_bad_entry,
        )

    @property
    def timeline(self) -> EntryBatch:
        """Ids, sync labels and monotonic stamps of every entry to write (no data).

        Read from the stream's pass each time (it lives in the spool files, not in memory), or read once and
        kept by interfaces that read their stream themselves.
        """
        if self.stream_pass_request() is not None:
            return self._read_timeline()
        if self._timeline is None:
            self._timeline = self._read_timeline()
        return self._timeline

    @property
    def entry_count(self) -> int:
        """Entries of the stream to write."""
        if self.stream_pass_request() is not None:
            return self.stream_pass.length
        return len(self.timeline)

    @property
    def entry_times(self) -> EntryTimes:
        """The entries' original session times with the chosen clock, and how they were obtained.

        Computed once per stream, clock and graph, and shared by the interfaces reading the same stream pass
        (a stream's data interface and its clock table).
        """
        if self._entry_times is None:
            shared = self.stream_pass.derived if self.stream_pass_request() is not None else {}
            key = ("entry_times", id(self.graph), self.clock)
            if key not in shared:
                shared[key] = self._compute_entry_times(self.timeline)
                self._warn_about(shared[key])
            self._entry_times = shared[key]
        return self._entry_times

    def _warn_about(self, times: EntryTimes) -> None:
        if times.fallback_entries:
            warnings.warn(
                f"stream '{self.spec.name}': {times.fallback_entries} entries lack the {times.clock} clock's "
                f"field{' (' + times.label + ')' if times.label else ''}; they are stamped with their Redis "
                "entry-id time.",
                stacklevel=3,
            )
        if len(times.resets):
            warnings.warn(
                f"stream '{self.spec.name}': sync label '{times.label}' restarts {len(times.resets)} time(s) "
                "(NSP clock reset); each segment is mapped onto the session clock separately.",
                stacklevel=3,
            )

    def get_original_timestamps(self) -> np.ndarray:
        """Entry times in seconds since ``session_start_time``, re-read from the source."""
        return self._compute_entry_times(self._read_timeline(fresh=True)).seconds.copy()

    def get_timestamps(self) -> np.ndarray:
        """Entry times after any alignment (seconds since ``session_start_time``)."""
        if self._aligned_timestamps is not None:
            return self._aligned_timestamps
        return self.entry_times.seconds.copy()

    def set_aligned_timestamps(self, aligned_timestamps: np.ndarray) -> None:
        """Replace the entry times (one per entry, seconds since ``session_start_time``)."""
        aligned = np.asarray(aligned_timestamps, dtype=np.float64)
        if aligned.shape != (self.entry_count,):
            raise ValueError(
                f"stream '{self.spec.name}' has {self.entry_count} entries; got {aligned.shape[0]} timestamps."
            )
        self._aligned_timestamps = aligned.copy()

    @property
    def alignment_leader(self) -> BrandStreamInterface | None:
        """The interface whose alignment this one follows (None: its own); a converter-level shift skips followers."""
        return None

    def earliest_time(self) -> float | None:
        """The earliest time (s since ``session_start_time``) this interface writes; None when it writes none."""
        times = self.get_timestamps()
        return float(np.nanmin(times)) if len(times) and not np.isnan(times).all() else None

    # --- what the series interfaces (TimeSeries, Position) write for each key ---

    def entries_to_write(self, stub_test: bool = False) -> np.ndarray:
        """The (aligned) session times of the entries to write: all, or the first ones for a stub."""
        entry_seconds = self.get_timestamps()
        return entry_seconds[:STUB_ENTRIES] if stub_test else entry_seconds

    def key_series_arguments(
        self,
        key: KeySpec,
        entry_seconds: np.ndarray,
        chunk_mb: float,
        buffer_gb: float,
        display_progress: bool,
    ) -> dict:
        """``data`` (a lazy iterator over the key) and the timing arguments of one key's series.

        ``entry_seconds`` are the times of the entries to write (the first ones of the stream). Samples of
        multi-sample entries get their own times at ``samp`` x the entry rate.
        """
        spooled = self.stream_pass.keys.get(key.name)
        data = StreamKeyIterator(
            self.session.source,
            self.spec,
            key.name,
            None if spooled is not None else self.timeline.ids[: len(entry_seconds)],
            on_bad_entry=self.on_bad_entry,
            spooled=spooled,
            num_entries=len(entry_seconds),
            chunk_mb=chunk_mb,
            buffer_gb=buffer_gb,
            display_progress=display_progress,
        )
        times = sample_times(
            entry_seconds, key.samp, sample_rate(self.entry_times.seconds, self.spec.rate, key.samp)
        )
        return dict(data=data, **series_timing(times))
