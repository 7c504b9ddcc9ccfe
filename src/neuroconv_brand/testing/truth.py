"""Ground truth of a synthetic session: what was written (raw terms) and what a converter should derive."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from ..sources.entry_ids import EntryId
from .config import SessionConfig

#: Full-length field arrays up to this size are cached by ``StreamTruth.fields``.
FIELD_CACHE_BYTES = 64 * 2**20


@dataclass(frozen=True)
class FieldLayout:
    """How one field is encoded in every entry of a stream.

    Attributes
    ----------
    name : str
        Field name in the Redis entry.
    encoding : {"buffer", "text", "json", "ascii"}
        "buffer": raw little-endian ``ndarray.tobytes()``; "text": UTF-8 string; "json": UTF-8 JSON object
        text (the ``sync`` field); "ascii": a decimal number as ASCII text (pre-2022-08 ``ts``).
    dtype : str
        Numpy dtype of a buffer (``"int16"``, ``"uint64"``, ...); ``"str"`` for text/json; for "ascii" the
        type of the number (``"float64"``).
    samp, chan : int
        Logical shape of one entry: ``samp`` samples of ``chan`` channels.
    layout : {"sample-major", "channel-major"}
        Byte order of a buffer: C-order ``[samp, chan]`` or ``[chan, samp]``.
    struct : str or None
        "timeval" when each sample is a C ``struct timeval`` (int64 seconds, int64 microseconds): then
        ``dtype`` is int64 and ``chan`` is 2.
    """

    name: str
    encoding: Literal["buffer", "text", "json", "ascii"]
    dtype: str = "str"
    samp: int = 1
    chan: int = 1
    layout: Literal["sample-major", "channel-major"] = "sample-major"
    struct: str | None = None

    @property
    def entry_nbytes(self) -> int | None:
        """Bytes per entry of a buffer field, None for text."""
        if self.encoding != "buffer":
            return None
        return self.samp * self.chan * np.dtype(self.dtype).itemsize


class FieldSource:
    """Produces logical field values for a range of entries (regenerated on demand)."""

    def __init__(self, producers: Mapping[str, Callable[[int, int], np.ndarray]]):
        self._producers = dict(producers)

    def field(self, name: str, start: int, stop: int) -> np.ndarray:
        """Values of entries ``start:stop``: numeric ``(n, samp, chan)``, text 1-D object arrays."""
        return self._producers[name](start, stop)

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> FieldSource:
        """A source over in-memory arrays."""
        return cls({name: (lambda start, stop, a=array: a[start:stop]) for name, array in arrays.items()})


class LazyFields(Mapping):
    """``StreamTruth.fields``: full-length logical arrays, computed on first access (small ones cached)."""

    def __init__(self, source: FieldSource, layouts: dict[str, FieldLayout], n_entries: int):
        self._source = source
        self._layouts = layouts
        self._n = n_entries
        self._cache: dict[str, np.ndarray] = {}

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self._layouts:
            raise KeyError(name)
        if name in self._cache:
            return self._cache[name]
        values = self._source.field(name, 0, self._n)
        if values.nbytes <= FIELD_CACHE_BYTES:
            self._cache[name] = values
        return values

    def __iter__(self) -> Iterator[str]:
        return iter(self._layouts)

    def __len__(self) -> int:
        return len(self._layouts)


@dataclass(eq=False)
class StreamTruth:
    """Everything written to one stream.

    Attributes
    ----------
    name : str
        Stream (Redis key) name.
    role : {"data", "parameter", "infrastructure"}
        Data streams define the session's time span; parameter streams hold per-electrode arrays;
        infrastructure streams are the supervisor's.
    ids : ndarray
        ``(n, 2)`` uint64 entry ids (ms, seq).
    ts_ns : ndarray or None
        uint64 ``ts`` (CLOCK_MONOTONIC ns) per entry, None when the stream has no ``ts``.
    sync : dict
        Per sync label, int64 values per entry (0 where absent).
    sync_present : dict
        Per sync label, bool per entry: whether the entry's sync dict has the label.
    raw_fields : dict
        Every field written, with its :class:`FieldLayout` (including ``sync`` and ``ts``).
    fields : Mapping
        Logical values of every field except ``sync``/``ts``: numeric as ``(n, samp, chan)`` arrays in
        sample-major order whatever the byte layout, text as 1-D object arrays of str. Computed lazily.
    type_nwb : str or None
        The node-YAML mechanism of the stream.
    graph_sync_labels : tuple of str
        The graph's ``sync`` list for the stream (blocking label first).
    rate_hz : float or None
        Nominal entry rate.
    """

    name: str
    role: Literal["data", "parameter", "infrastructure"]
    ids: np.ndarray
    ts_ns: np.ndarray | None
    sync: dict[str, np.ndarray]
    sync_present: dict[str, np.ndarray]
    raw_fields: dict[str, FieldLayout]
    source: FieldSource
    type_nwb: str | None = None
    graph_sync_labels: tuple[str, ...] = ()
    rate_hz: float | None = None
    #: NSP tick that completes each entry (windowed writing of the NSP streams); None for other streams.
    entry_ticks: np.ndarray | None = None
    fields: Mapping = field(init=False, repr=False)

    def __post_init__(self) -> None:
        logical = {name: layout for name, layout in self.raw_fields.items() if name not in ("sync", "ts")}
        self.fields = LazyFields(self.source, logical, len(self.ids))

    @property
    def n_entries(self) -> int:
        """Number of entries."""
        return len(self.ids)

    def entry_id(self, index: int) -> EntryId:
        """The id of entry ``index``."""
        return EntryId(int(self.ids[index, 0]), int(self.ids[index, 1]))

    def id_strings(self) -> list[str]:
        """Every id as ``"<ms>-<seq>"``."""
        return [f"{ms}-{seq}" for ms, seq in self.ids.tolist()]

    def field_slice(self, name: str, start: int, stop: int) -> np.ndarray:
        """Logical values of field ``name`` for entries ``start:stop`` (without materialising the rest)."""
        if name not in self.fields:
            raise KeyError(f"stream {self.name} has no field {name!r}; fields: {list(self.fields)}")
        return self.source.field(name, start, stop)

    def sync_dict(self, index: int) -> dict[str, int]:
        """The sync dict of entry ``index``, labels in written order."""
        return {
            label: int(values[index])
            for label, values in self.sync.items()
            if self.sync_present[label][index]
        }

    def sync_texts(self, start: int = 0, stop: int | None = None) -> list[bytes]:
        """The exact ``sync`` bytes of entries ``start:stop`` (``json.dumps`` of the dict)."""
        stop = self.n_entries if stop is None else stop
        labels = list(self.sync)
        if not labels:
            return [b"{}"] * (stop - start)
        present = np.stack([self.sync_present[label][start:stop] for label in labels], axis=1)
        values = np.stack([self.sync[label][start:stop] for label in labels], axis=1)
        out: list[bytes] = [b""] * (stop - start)
        patterns, inverse = np.unique(present, axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
        for number, pattern in enumerate(patterns):
            rows = np.flatnonzero(inverse == number)
            chosen = [i for i, on in enumerate(pattern) if on]
            if not chosen:
                for row in rows.tolist():
                    out[row] = b"{}"
                continue
            keys = [json.dumps(labels[i]).replace("%", "%%") + ": %d" for i in chosen]
            template = ("{" + ", ".join(keys) + "}").encode()
            columns = [values[rows, i].tolist() for i in chosen]
            for row, args in zip(rows.tolist(), zip(*columns, strict=True), strict=True):
                out[row] = template % args
        return out


@dataclass(frozen=True)
class TrialTruth:
    """One trial a correct converter keeps (``state`` entry indices and ids).

    ``trial_info_index``/``trial_success_index`` are the entries of ``trial_info``/``trial_success`` that
    belong to the trial (each lies inside [start, end] on every clock).
    """

    start_index: int
    start_id: EntryId
    go_cue_index: int | None
    go_cue_id: EntryId | None
    end_index: int
    end_id: EntryId
    trial_info_index: int
    trial_success_index: int
    target: int
    success: bool
    cond_id: str


@dataclass(frozen=True)
class ElectrodeTruth:
    """One electrode row (global channel order: array 1's electrodes first)."""

    row: int
    implant: str
    device: str
    index_in_array: int
    location: str
    position: tuple[float, float, float] | None


@dataclass(frozen=True)
class HazardTruth:
    """Where the configured hazards are (empty/None when a hazard is off).

    Attributes
    ----------
    empty_sync : dict
        Stream -> number of leading entries whose sync is ``{}``.
    same_ms_bursts : ndarray
        First tick of every 3-entry same-millisecond burst in the NSP streams.
    same_ms_state_pair : tuple or None
        ``state`` entry indices of an end and the next start written in the same millisecond.
    missing_end_start : int or None
        ``state`` index of a start whose trial never ended (superseded by the next start).
    orphan_end : int or None
        ``state`` index of an end without a start.
    unfinished_start : int or None
        ``state`` index of the last start, whose trial has no end.
    nsp_reset_tick : int or None
        Tick at which tracking id and NSP clocks restarted from 0.
    reset_first_entry : dict
        Stream -> index of its first entry whose labels restarted.
    dropped_ticks : tuple or None
        ``(first_tick, count)`` of lost NSP packets.
    extra_sync_labels : dict
        Stream -> labels present in entries but not in the graph's ``sync`` list.
    position_extra_nwb : dict
        Stream -> {key: extra nwb entries}.
    trial_state_key : str
        Key of the ``state`` stream holding the trial state.
    """

    empty_sync: dict[str, int] = field(default_factory=dict)
    same_ms_bursts: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    same_ms_state_pair: tuple[int, int] | None = None
    missing_end_start: int | None = None
    orphan_end: int | None = None
    unfinished_start: int | None = None
    nsp_reset_tick: int | None = None
    reset_first_entry: dict[str, int] = field(default_factory=dict)
    dropped_ticks: tuple[int, int] | None = None
    extra_sync_labels: dict[str, tuple[str, ...]] = field(default_factory=dict)
    position_extra_nwb: dict[str, dict] = field(default_factory=dict)
    trial_state_key: str = "state"


@dataclass(eq=False)
class SyntheticSession:
    """What :func:`~neuroconv_brand.testing.generate_session` wrote.

    Attributes
    ----------
    config : SessionConfig
        The options used.
    era : str
        Supergraph era.
    streams : dict
        Every stream written, by name (:class:`StreamTruth`).
    supergraph : dict
        The latest model in ``supergraph_stream``.
    supergraphs : list of dict
        Every model written, oldest first.
    description : str
        The session description of the latest model.
    participant_file, devices_file : Path
        The YAML files (absolute paths).
    brand_base_dir : Path or None
        ``$BRAND_BASE_DIR`` holding the node YAMLs (``<base>/../brand-modules/...``); None for era 2025.
    node_yaml_files : dict
        Node name -> node YAML path (empty for era 2025).
    array_map_files : list of Path
        One CSV per implant when ``array_map`` is on.
    trials : list of TrialTruth
        Complete trials a correct converter keeps, in order.
    electrodes : list of ElectrodeTruth
        Electrode rows, array 1 first.
    session_start_ms, session_end_ms : int
        Wall clock (Unix ms) of the first and last data entry.
    graph_loaded_ts : int
        The model's ``graph_loaded_ts`` (monotonic ns).
    hazards : HazardTruth
        Where the hazards are.
    absent_streams : list of str
        Graph streams that were not written (the raw stream when ``raw`` is False).
    """

    config: SessionConfig
    era: str
    streams: dict[str, StreamTruth]
    supergraph: dict
    supergraphs: list[dict]
    description: str
    participant_file: Path
    devices_file: Path
    brand_base_dir: Path | None
    node_yaml_files: dict[str, Path]
    array_map_files: list[Path]
    trials: list[TrialTruth]
    electrodes: list[ElectrodeTruth]
    session_start_ms: int
    session_end_ms: int
    graph_loaded_ts: int
    hazards: HazardTruth
    absent_streams: list[str]

    @property
    def sync_timing_hz(self) -> int | dict[str, int]:
        """The ``sync_timing_hz`` the graph declares."""
        return self.config.sync_timing_hz

    @property
    def data_streams(self) -> list[str]:
        """Names of the data streams."""
        return [name for name, stream in self.streams.items() if stream.role == "data"]

    @property
    def total_entries(self) -> int:
        """Entries written over all streams."""
        return sum(stream.n_entries for stream in self.streams.values())

    def spike_entries(self, stream: str, chunk: int = 50_000) -> list[np.ndarray]:
        """Per channel of a SpikeTimes stream, the entry indices whose ``crossings`` value is non-zero."""
        truth = self.streams[stream]
        if "crossings" not in truth.fields:
            raise KeyError(f"stream {stream} has no crossings field")
        per_channel: list[list[np.ndarray]] = [[] for _ in range(truth.raw_fields["crossings"].chan)]
        for start in range(0, truth.n_entries, chunk):
            stop = min(truth.n_entries, start + chunk)
            values = truth.field_slice("crossings", start, stop)[:, 0, :]
            entry, channel = np.nonzero(values)
            order = np.argsort(channel, kind="stable")
            entry, channel = entry[order] + start, channel[order]
            bounds = np.searchsorted(channel, np.arange(len(per_channel) + 1))
            for c in range(len(per_channel)):
                per_channel[c].append(entry[bounds[c] : bounds[c + 1]])
        return [
            np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)
            for parts in per_channel
        ]
