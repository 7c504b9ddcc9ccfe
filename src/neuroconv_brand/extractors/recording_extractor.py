"""Continuous neural data of a BRAND stream as a SpikeInterface recording.

:class:`BrandRecordingExtractor` is a :class:`spikeinterface.core.BaseRecording` over one key of one stream
(``nsp_neural.samples``, ``continuousNeural.samples``, a filtered or re-referenced stream). Construction reads
the stream once to index it: the entry ids (for random access) and the sample clock (for gaps), never the
samples themselves into memory. :meth:`BrandRecordingSegment.get_traces` then reads only the entries that
cover the requested frames.

Times
    With ``timing="nsp"`` every sample is stamped by the stream's own NSP clock (the per-sample
    ``timestamps`` field of cerebusAdapter/cerebusAdapterGem/the Stavisky variant, 30 kHz ticks), mapped onto
    the session clock by the median of ``redis_time - nsp_time`` over the entries (one offset per NSP clock
    epoch: a clock that restarts starts a new epoch). With ``timing="entries"`` the entry times of
    :mod:`neuroconv_brand.timing.clocks` stamp the first sample of each entry.
Gaps
    Dropped packets (the NSP clock jumps) and clock restarts are never smoothed away. By default the recording
    has one segment per contiguous run of samples, each with ``t_start`` and the sampling frequency, so memory
    does not grow with the session (explicit per-sample times of an hour at 30 kHz are 864 MB of float64).
    ``gaps="timestamps"`` instead gives one segment with an explicit time vector. Either way the gaps are
    listed in :attr:`BrandRecordingExtractor.gaps` and reported in a warning.
"""

from __future__ import annotations

import json
import math
import re
import sys
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from itertools import pairwise
from os import PathLike
from pathlib import Path
from typing import Literal

import numpy as np
from spikeinterface.core import BaseRecording, BaseRecordingSegment
from spikeinterface.core.core_tools import define_function_from_class

from ..errors import ConfigurationError, GraphError, SourceError, StreamDecodeError
from ..graph.acquisition import is_acquisition_stream
from ..graph.stream_specs import KeySpec, StreamSpec
from ..graph.supergraph import Graph
from ..interruption import check_interrupted
from ..reading.decoding import (
    OnBadEntry,
    bad_payload_error,
    check_entry_encoding,
    decode_numeric,
    find_bad_payloads,
)
from ..reading.stream_reader import StreamReader, choose_batch_size, field_column
from ..sources.entry_ids import EntryId, parse_entry_ids
from ..sources.session import open_session_graph
from ..timing.clocks import Clock, redis_seconds
from ..timing.session_clocks import session_entry_times
from ..timing.session_start import session_start_ms

Timing = Literal["auto", "nsp", "entries"]
GapMode = Literal["segments", "timestamps"]

_MICROVOLTS_PER = {"nV": 1e-3, "uV": 1.0, "µV": 1.0, "μV": 1.0, "mV": 1e3, "V": 1e6}
_VOLTAGE_UNIT = re.compile(
    r"^\s*(?:(?P<factor>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*\*?\s*)?(?P<unit>nV|uV|µV|μV|mV|V)\s*$"
)
_NODE_RATE_PARAMETERS = ("samp_freq", "sampling_frequency", "sample_rate", "fs")


class RecordingConfigurationError(ConfigurationError):
    """An option of a recording (channel map, sampling frequency, clock rate, electrodes) does not fit the data."""


@dataclass(frozen=True)
class RecordingGap:
    """A discontinuity of the sample clock between two segments (or inside the time vector).

    Attributes
    ----------
    kind : {"gap", "reset"}
        ``"gap"``: samples are missing (dropped packets; the clock jumps forward). ``"reset"``: the clock went
        backwards or repeated a value (an NSP restart); the samples after it are on a new clock epoch.
    sample_index : int
        Index, over all samples of the stream, of the first sample after the discontinuity.
    segment_index : int
        The segment that starts at ``sample_index`` (with ``gaps="timestamps"``: always 0).
    missing_samples : int or None
        Samples lost in a ``"gap"`` (from the clock); None for a reset.
    previous_end_s : float
        Session time of the last sample before the discontinuity.
    next_start_s : float
        Session time of the first sample after it.
    entry_id : str
        Redis id of the entry holding the first sample after the discontinuity.
    """

    kind: Literal["gap", "reset"]
    sample_index: int
    segment_index: int
    missing_samples: int | None
    previous_end_s: float
    next_start_s: float
    entry_id: str


@dataclass(frozen=True)
class _Run:
    """A contiguous run of samples: global sample range and the session time of its first sample."""

    first_sample: int
    num_samples: int
    t_start: float


@dataclass
class _StreamIndex:
    """What the indexing pass learned: entry ids, contiguous runs, discontinuities, per-sample times if asked."""

    ids: np.ndarray
    runs: list[_Run]
    gaps: list[RecordingGap]
    timing: Literal["nsp", "entries"]
    skipped: int = 0


# ------------------------------------------------------------------------------------------- option helpers


def gain_from_unit(unit: str | None) -> float | None:
    """Microvolts per stored unit for a voltage unit string: ``"0.25uV"`` -> 0.25, ``"mV"`` -> 1000.

    Returns None when ``unit`` is not a voltage (``"n/a"``, ``"(0.25uV)^2"``, ``"spikes"``).
    """
    if unit is None:
        return None
    match = _VOLTAGE_UNIT.match(str(unit))
    if match is None:
        return None
    factor = float(match["factor"]) if match["factor"] else 1.0
    return factor * _MICROVOLTS_PER[match["unit"]]


def node_sampling_frequency(graph: Graph, spec: StreamSpec) -> float | None:
    """The writing node's ``samp_freq`` parameter for this stream (per-stream lists are indexed by stream)."""
    node = graph.nodes.get(spec.source_nickname or "") or {}
    parameters = node.get("parameters") or {}
    if not isinstance(parameters, dict):
        return None
    for name in _NODE_RATE_PARAMETERS:
        value = parameters.get(name)
        if isinstance(value, list):
            names = parameters.get("stream_names")
            index = names.index(spec.name) if isinstance(names, list) and spec.name in names else 0
            value = value[index] if index < len(value) else None
        if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
            return float(value)
    return None


def load_channel_map(
    channel_map: Sequence[int] | str | PathLike | None, num_channels: int, where: str
) -> np.ndarray:
    """Electrode number (0-based row of the electrodes table) of each channel of the stream, in stream order.

    Parameters
    ----------
    channel_map : sequence of int, path or None
        None: channel ``c`` is electrode ``c``. A sequence: 0-based electrode numbers, one per channel. A path to
        a JSON file holding either such a list, or ``{"electrode_mapping": [...]}`` with **1-based** numbers (the
        Stavisky-lab channel map).
    num_channels : int
        Channels of the stream.
    where : str
        ``"stream 'x', key 'y'"`` for messages.

    Raises
    ------
    RecordingConfigurationError
        Unreadable file, wrong length, negative, non-integer or repeated electrode numbers.
    """
    if channel_map is None:
        return np.arange(num_channels, dtype=np.int64)
    source = "channel_map"
    if isinstance(channel_map, str | PathLike):
        path = Path(channel_map)
        source = f"channel map {path}"
        try:
            content = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            raise RecordingConfigurationError(
                f"{where}: cannot read the {source} ({error}); expected a JSON list of 0-based electrode numbers "
                'or {"electrode_mapping": [1-based numbers]}.'
            ) from None
        if isinstance(content, dict) and "electrode_mapping" in content:
            values, base = content["electrode_mapping"], 1
        elif isinstance(content, list):
            values, base = content, 0
        else:
            raise RecordingConfigurationError(
                f"{where}: the {source} is neither a JSON list nor an object with 'electrode_mapping'."
            )
    else:
        values, base = list(channel_map), 0
    if not all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in values):
        raise RecordingConfigurationError(f"{where}: the {source} must hold integers only.")
    electrodes = np.asarray(values, dtype=np.int64) - base
    if len(electrodes) != num_channels:
        raise RecordingConfigurationError(
            f"{where}: the {source} has {len(electrodes)} entries but the stream has {num_channels} channels; "
            "give one electrode number per channel, in stream order."
        )
    if len(electrodes) and electrodes.min() < 0:
        raise RecordingConfigurationError(
            f"{where}: the {source} has electrode numbers below {base} ({'1-based' if base else '0-based'})."
        )
    unique, counts = np.unique(electrodes, return_counts=True)
    if (counts > 1).any():
        repeated = (unique[counts > 1] + base).tolist()[:5]
        raise RecordingConfigurationError(
            f"{where}: the {source} assigns electrode(s) {repeated} to several channels."
        )
    return electrodes


# ---------------------------------------------------------------------------------------- the extractor


class BrandRecordingExtractor(BaseRecording):
    """A SpikeInterface recording over one key of one BRAND stream (continuous neural data).

    Parameters
    ----------
    file_path : str
        The BRAND source: a ``.rdb`` file, ``redis://host:port/db``, ``rediss://...``, or a unix socket path.
    stream_name : str
        The stream, e.g. ``"nsp_neural"`` (cerebusAdapterGem) or ``"continuousNeural"`` (Stavisky lab).
    key : str
        The field holding the samples.
    sampling_frequency : float, optional
        Samples per second. Default: the graph's entry ``rate`` times ``samp_per_stream``, else the ``samp_freq``
        parameter of an acquisition node (cerebusAdapter, cerebusAdapterGem).
    gain_to_uv : float, optional
        Microvolts per stored unit. Default: from the key's ``nwb: unit`` (``"0.25uV"`` -> 0.25).
    offset_to_uv : float
        Microvolts added after the gain.
    channel_map : list of int or str, optional
        Electrode number (0-based row of the electrodes table) of each channel, in stream order, or a JSON
        file with such a list or the Stavisky form ``{"electrode_mapping": [1-based numbers]}``. Default:
        channel ``c`` is electrode ``c``. Channel ids are the electrode numbers.
    timing : {"auto", "nsp", "entries"}
        ``"nsp"``: per-sample times from the stream's own clock field (``timestamps_key``); ``"entries"``: from
        the entry clock (``clock``); ``"auto"``: ``"nsp"`` when the entries carry ``timestamps_key``.
    timestamps_key : str
        The field with the NSP clock (one value per sample, or one per entry for its first sample).
    timestamps_rate : float, optional
        Ticks per second of that clock. Default: the sampling frequency (30 kHz NSP ticks).
    gaps : {"segments", "timestamps"}
        How discontinuities are represented: one segment per contiguous run (``t_start`` + sampling frequency,
        memory independent of duration), or one segment with an explicit time vector (8 bytes per sample).
    clock : {"sync", "monotonic", "redis"}
        The entry clock for ``timing="entries"`` (see :mod:`neuroconv_brand.timing.clocks`).
    brand_base_dir : str, optional
        The BRAND base directory, for graphs whose supergraph has no compiled stream definitions.
    derivative : str, optional
        The nickname of the exportNWB derivative whose parameters configure the export (default: the graph's).
    on_bad_entry : {"raise", "skip"}
        Entries whose payload does not match the declared shape: raise, or leave them out with a warning (their
        samples then show up as a gap).
    redis_server_path : str, optional
        For ``.rdb`` sources: read through this redis-server.
    all_annotations : bool
        Accepted for NeuroConv's extractor interface; every annotation is always loaded.
    """

    extractor_name = "BrandRecording"
    mode = "file"
    installation_mesg = ""
    name = "brand"

    def __init__(
        self,
        file_path: str | PathLike,
        stream_name: str,
        key: str = "samples",
        sampling_frequency: float | None = None,
        gain_to_uv: float | None = None,
        offset_to_uv: float = 0.0,
        channel_map: list[int] | str | PathLike | None = None,
        timing: Timing = "auto",
        timestamps_key: str = "timestamps",
        timestamps_rate: float | None = None,
        gaps: GapMode = "segments",
        clock: Clock = "sync",
        brand_base_dir: str | PathLike | None = None,
        derivative: str | None = None,
        on_bad_entry: OnBadEntry = "raise",
        redis_server_path: str | PathLike | None = None,
        all_annotations: bool = True,
    ):
        _check_choice("timing", timing, ("auto", "nsp", "entries"))
        _check_choice("gaps", gaps, ("segments", "timestamps"))
        _check_choice("clock", clock, ("sync", "monotonic", "redis"))
        _check_choice("on_bad_entry", on_bad_entry, ("raise", "skip"))
        self.session, self.graph = open_session_graph(
            self, file_path, brand_base_dir, derivative, redis_server_path
        )
        self.spec = self._find_spec(stream_name)
        self.key = self._find_key(key)
        where = f"stream '{stream_name}', key '{key}'"
        fs = self._sampling_frequency(sampling_frequency, where)
        gain = self._gain(gain_to_uv, where)
        electrodes = load_channel_map(channel_map, self.key.chan, where)
        BaseRecording.__init__(self, fs, electrodes, self.key.numpy_dtype.newbyteorder("="))

        self.on_bad_entry: OnBadEntry = on_bad_entry
        self.timestamps_key = timestamps_key
        self.clock: Clock = clock
        self.session_start_ms = session_start_ms(self.session, self.graph)
        resolved = self._resolve_timing(timing, timestamps_key)
        rate = float(timestamps_rate) if timestamps_rate else fs
        if resolved == "nsp":
            self._ts_key = self._timestamps_keyspec(timestamps_key, where)
            self._index, times = _index_by_nsp_clock(self, rate, gaps == "timestamps")
        else:
            self._ts_key = None
            self._index, times = _index_by_entry_clock(self, gaps == "timestamps")
        if self._index.skipped:
            warnings.warn(
                f"{where}: left out {self._index.skipped} entries whose payload did not match the declared shape "
                "(on_bad_entry='skip'); their samples are reported as gaps.",
                stacklevel=2,
            )
        self._reader = _WindowReader(self)
        if gaps == "timestamps" and len(self._index.runs) > 1:
            total = sum(run.num_samples for run in self._index.runs)
            self.add_recording_segment(BrandRecordingSegment(self._reader, 0, total, fs, None, times))
        else:
            for run in self._index.runs:
                self.add_recording_segment(
                    BrandRecordingSegment(self._reader, run.first_sample, run.num_samples, fs, run.t_start)
                )
        self._report_gaps(where)

        self.set_channel_gains(gain)
        self.set_channel_offsets(float(offset_to_uv))
        self.set_property("channel_name", [str(e) for e in electrodes])
        self.annotate(
            brand_stream=stream_name,
            brand_key=key,
            brand_timing=self._index.timing,
            is_filtered=not is_acquisition_stream(self.graph, self.spec),
        )
        self._kwargs = dict(
            file_path=str(file_path),
            stream_name=stream_name,
            key=key,
            sampling_frequency=sampling_frequency,
            gain_to_uv=gain_to_uv,
            offset_to_uv=offset_to_uv,
            channel_map=[int(e) for e in channel_map]
            if isinstance(channel_map, list | tuple | np.ndarray)
            else (None if channel_map is None else str(channel_map)),
            timing=timing,
            timestamps_key=timestamps_key,
            timestamps_rate=timestamps_rate,
            gaps=gaps,
            clock=clock,
            brand_base_dir=None if brand_base_dir is None else str(brand_base_dir),
            derivative=derivative,
            on_bad_entry=on_bad_entry,
            redis_server_path=None if redis_server_path is None else str(redis_server_path),
        )

    # --- public read-outs -------------------------------------------------------------------------------

    @property
    def gaps(self) -> list[RecordingGap]:
        """Every discontinuity of the sample clock, in order."""
        return list(self._index.gaps)

    @property
    def entry_ids(self) -> np.ndarray:
        """``(n, 2)`` uint64 ``(ms, seq)`` ids of the entries that hold the samples, in order."""
        return self._index.ids

    @property
    def timing(self) -> Literal["nsp", "entries"]:
        """What stamps the samples (``"nsp"``, the stream's NSP clock field, or ``"entries"``, the entry clock)."""
        return self._index.timing

    @property
    def samples_per_entry(self) -> int:
        """``samp_per_stream`` of the key."""
        return self.key.samp

    # --- construction helpers ---------------------------------------------------------------------------

    def _find_spec(self, stream_name: str) -> StreamSpec:
        spec = self.graph.streams.get(stream_name)
        if spec is None:
            known = ", ".join(sorted(self.graph.streams)) or "none"
            raise GraphError(f"stream '{stream_name}' is not in the graph; streams the graph knows: {known}.")
        if stream_name not in set(self.session.source.stream_names()):
            raise GraphError(
                f"stream '{stream_name}' is defined in the graph but absent from "
                f"{self.session.location.description} (flushed before saving?)."
            )
        return spec

    def _find_key(self, key: str) -> KeySpec:
        spec = self.spec.keys.get(key)
        if spec is None:
            known = ", ".join(sorted(self.spec.keys)) or "none"
            raise GraphError(
                f"stream '{self.spec.name}' declares no key '{key}' (declared: {known}); pass key= with the field "
                "that holds the samples."
            )
        if spec.is_text:
            raise GraphError(
                f"stream '{self.spec.name}', key '{key}' holds text (sample_type: str), not samples."
            )
        return spec

    def _sampling_frequency(self, given: float | None, where: str) -> float:
        if given is not None:
            if not (math.isfinite(given) and given > 0):
                raise RecordingConfigurationError(
                    f"{where}: sampling_frequency must be positive, got {given}."
                )
            return float(given)
        if self.spec.rate:
            return float(self.spec.rate) * self.key.samp
        # Only an acquisition node's samp_freq is its output rate (nsp_all's is the rate of its input).
        from_node = node_sampling_frequency(self.graph, self.spec)
        if from_node is not None and is_acquisition_stream(self.graph, self.spec):
            return from_node
        raise GraphError(
            f"{where}: the graph gives no sampling rate (no 'rate' for the stream in the exportNWB configuration, "
            f"and '{self.spec.source_nickname}' is not an acquisition node with a 'samp_freq' parameter); pass "
            "sampling_frequency=."
        )

    def _gain(self, given: float | None, where: str) -> float:
        if given is not None:
            if not (math.isfinite(given) and given != 0):
                raise RecordingConfigurationError(
                    f"{where}: gain_to_uv must be a non-zero number, got {given}."
                )
            return float(given)
        unit = (self.key.nwb or {}).get("unit")
        gain = gain_from_unit(unit)
        if gain is None:
            raise GraphError(
                f"{where}: the unit {unit!r} of the node YAML's nwb block is not a voltage ('0.25uV', 'uV', 'mV', "
                "...), so the gain to microvolts is unknown; pass gain_to_uv=."
            )
        return gain

    def _resolve_timing(self, timing: Timing, timestamps_key: str) -> Literal["nsp", "entries"]:
        if timing != "auto":
            return timing
        first = self.session.source.read_range(self.spec.name, count=1)
        has_clock = bool(first) and timestamps_key.encode() in first[0][1]
        return "nsp" if has_clock else "entries"

    def _timestamps_keyspec(self, timestamps_key: str, where: str) -> KeySpec:
        first = self.session.source.read_range(self.spec.name, count=1)
        if not first:
            raise GraphError(f"{where}: the stream has no entries.")
        raw_id, fields = first[0]
        payload = fields.get(timestamps_key.encode())
        if payload is None:
            raise StreamDecodeError(
                f"stream '{self.spec.name}', entry {raw_id.decode()}: no field '{timestamps_key}' (timing='nsp' "
                "needs the NSP clock per sample); use timing='entries' or name the field with timestamps_key=."
            )
        for per_entry in (self.key.samp, 1):
            for dtype in ("uint64", "uint32"):
                if len(payload) == per_entry * np.dtype(dtype).itemsize:
                    return KeySpec(timestamps_key, chan=1, samp=per_entry, dtype=dtype)
        raise StreamDecodeError(
            f"stream '{self.spec.name}', entry {raw_id.decode()}, key '{timestamps_key}': payload is {len(payload)} "
            f"bytes; expected 8 or 4 bytes per sample ({self.key.samp} samples) or per entry. Use timing='entries' "
            "if this field is not the NSP sample clock."
        )

    def _report_gaps(self, where: str) -> None:
        gaps = self._index.gaps
        if not gaps:
            return
        lost = sum(gap.missing_samples or 0 for gap in gaps)
        resets = sum(gap.kind == "reset" for gap in gaps)
        first = gaps[0]
        shape = (
            f"{self.get_num_segments()} segments"
            if self.get_num_segments() > 1
            else "one segment with explicit timestamps"
        )
        warnings.warn(
            f"{where}: the {self._index.timing} clock has {len(gaps) - resets} gap(s) ({lost} samples lost) and "
            f"{resets} reset(s); first at {first.previous_end_s:.6f} s (entry {first.entry_id}). Written as {shape}; "
            "see BrandRecordingExtractor.gaps.",
            stacklevel=3,
        )


def _check_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise RecordingConfigurationError(f"{name} must be one of {allowed}, not {value!r}.")


class BrandRecordingSegment(BaseRecordingSegment):
    """One contiguous run of samples of a :class:`BrandRecordingExtractor` (or all samples with a time vector).

    Parameters
    ----------
    reader : _WindowReader
        Reads sample windows from the stream.
    first_sample : int
        Index of the segment's first sample over all samples of the stream.
    num_samples : int
        Samples in the segment.
    sampling_frequency : float
        Samples per second.
    t_start : float or None
        Session time of the first sample (None with a time vector).
    time_vector : np.ndarray, optional
        Session time of every sample.
    """

    def __init__(
        self,
        reader: _WindowReader,
        first_sample: int,
        num_samples: int,
        sampling_frequency: float,
        t_start: float | None,
        time_vector: np.ndarray | None = None,
    ):
        if time_vector is not None:
            BaseRecordingSegment.__init__(self, time_vector=time_vector)
        else:
            BaseRecordingSegment.__init__(self, sampling_frequency=sampling_frequency, t_start=t_start)
        self._reader = reader
        self._first_sample = first_sample
        self._num_samples = num_samples

    def get_num_samples(self) -> int:
        """Samples in this segment."""
        return self._num_samples

    def get_traces(
        self,
        start_frame: int | None = None,
        end_frame: int | None = None,
        channel_indices: list | np.ndarray | tuple | slice | None = None,
    ) -> np.ndarray:
        """Samples ``[start_frame, end_frame)`` of this segment, ``(time, channels)``, read lazily."""
        check_interrupted()
        start = 0 if start_frame is None else int(start_frame)
        stop = self._num_samples if end_frame is None else min(int(end_frame), self._num_samples)
        traces = self._reader.read(self._first_sample + start, self._first_sample + max(stop, start))
        if channel_indices is None:
            return traces
        return traces[:, channel_indices]


class _WindowReader:
    """Reads the samples ``[first, stop)`` (over all samples of the stream) from the entries that hold them.

    The last window read is kept, so a writer whose buffers split the channels (each entry holds all channels)
    reads every entry once, not once per channel block. Window arrays are recycled once nobody holds a view of
    them any more: first-touch page faults of a fresh array cost more than the copy that fills it.
    """

    def __init__(self, extractor: BrandRecordingExtractor):
        self.key = extractor.key
        self.ids = extractor.entry_ids
        self.dtype = extractor.get_dtype()
        keys = [extractor.key.name]
        spec = extractor.spec
        if extractor.on_bad_entry == "skip" and extractor._ts_key is not None:
            # Skip the same entries as the indexing pass, which also dropped bad clock payloads.
            keys.append(extractor._ts_key.name)
            spec = replace(spec, keys={**spec.keys, extractor._ts_key.name: extractor._ts_key})
        self.reader = StreamReader(
            extractor.session.source,
            spec,
            keys=keys,
            on_bad_entry=extractor.on_bad_entry,
            with_sync=False,
            with_monotonic=False,
        )
        self._window: tuple[int, int, np.ndarray] | None = None
        self._pool: list[np.ndarray] = []

    def read(self, first: int, stop: int) -> np.ndarray:
        samp = self.key.samp
        if stop <= first:
            return np.empty((0, self.key.chan), dtype=self.dtype)
        first_entry, stop_entry = first // samp, -(-stop // samp)
        window = self._window
        if window is None or not (window[0] <= first_entry and stop_entry <= window[1]):
            self._window = None  # release the previous window before reading the next one
            window = (first_entry, stop_entry, self._read_entries(first_entry, stop_entry))
            self._window = window
        offset = window[0] * samp
        return window[2][first - offset : stop - offset]

    def _read_entries(self, first_entry: int, stop_entry: int) -> np.ndarray:
        samp = self.key.samp
        out = self._buffer((stop_entry - first_entry) * samp)
        start_id = EntryId(*map(int, self.ids[first_entry]))
        end_id = EntryId(*map(int, self.ids[stop_entry - 1]))
        filled = 0
        for batch in self.reader.iter_batches(start_id, end_id):
            block = batch.data[self.key.name]
            rows = block.shape[0] * samp
            if filled + rows > len(out):
                filled += rows
                break
            # Writing through a (entries, samp, chan) view transposes channel-major payloads in this one copy.
            out[filled : filled + rows].reshape(block.shape)[...] = block
            filled += rows
        if filled != len(out):
            raise SourceError(
                f"stream '{self.reader.spec.name}' changed while reading: expected {len(out) // samp} entries from "
                f"{start_id} to {end_id}, read {filled // samp}. Convert from a stopped session or a .rdb file."
            )
        out.flags.writeable = False  # callers get views of the kept window
        return out

    def _buffer(self, rows: int) -> np.ndarray:
        for array in self._pool:
            # Referenced only by the pool, this loop and getrefcount: no window or caller's view uses it.
            if len(array) >= rows and sys.getrefcount(array) <= 3:
                return array[:rows]
        array = np.empty((rows, self.key.chan), dtype=self.dtype)
        self._pool = [*self._pool, array][-2:]  # a writer holds the previous window while reading the next
        return array[:rows]  # a view: the window is made read-only, the pooled array stays writable


# ------------------------------------------------------------------------------------------ indexing pass


def _index_batch_size(extractor: BrandRecordingExtractor) -> int:
    # XRANGE returns whole entries, so size batches by everything an entry carries, not by the keys decoded.
    return choose_batch_size(extractor.key.entry_nbytes + 2048)


def _iter_clock_batches(
    extractor: BrandRecordingExtractor, ts_key: KeySpec
) -> Iterator[tuple[np.ndarray, np.ndarray, int]]:
    """Yield ``(ids, ticks (n, samp) int64, skipped)`` per batch, checking every entry's payload lengths."""
    stream = extractor.spec.name
    checked = (extractor.key, ts_key)
    for entries in extractor.session.source.iter_batches(stream, batch_size=_index_batch_size(extractor)):
        check_entry_encoding(stream, entries[0][0], entries[0][1])
        fields = [entry[1] for entry in entries]
        raw_ids = [entry[0] for entry in entries]
        keep = np.ones(len(entries), dtype=bool)
        columns = {}
        for key in checked:
            columns[key.name] = field_column(fields, key.name.encode())
            bad = find_bad_payloads(columns[key.name], key)
            if bad.any():
                if extractor.on_bad_entry == "raise":
                    index = int(np.argmax(bad))
                    raise bad_payload_error(stream, key, raw_ids[index], columns[key.name][index])
                keep &= ~bad
        payloads = columns[ts_key.name]
        if not keep.all():
            raw_ids = [r for r, k in zip(raw_ids, keep) if k]
            payloads = [p for p, k in zip(payloads, keep) if k]
        if not raw_ids:
            yield np.zeros((0, 2), np.uint64), np.zeros((0, extractor.key.samp), np.int64), int((~keep).sum())
            continue
        ticks = decode_numeric(payloads, ts_key).reshape(len(payloads), ts_key.samp).astype(np.int64)
        if ts_key.samp != extractor.key.samp:  # one tick per entry stamps its first sample
            ticks = ticks[:, :1] + np.arange(extractor.key.samp, dtype=np.int64)[None, :]
        yield parse_entry_ids(raw_ids), ticks, int((~keep).sum())


def _index_by_nsp_clock(
    extractor: BrandRecordingExtractor, tick_rate: float, with_times: bool
) -> tuple[_StreamIndex, np.ndarray | None]:
    """Index the stream by its NSP clock: a new run wherever consecutive samples are not one step apart."""
    fs = extractor.get_sampling_frequency()
    step_float = tick_rate / fs
    step = round(step_float)
    if step < 1 or abs(step_float - step) > 1e-9 * step_float:
        raise RecordingConfigurationError(
            f"stream '{extractor.spec.name}': the clock rate {tick_rate} Hz is not a whole multiple of the sampling "
            f"frequency {fs} Hz; pass timestamps_rate= (ticks per second of '{extractor.timestamps_key}') or use "
            "timing='entries'."
        )
    samp = extractor.key.samp
    ids_parts, first_ticks_parts, ticks_parts = [], [], []
    break_positions, break_before, break_after = [], [], []
    previous: int | None = None
    total = skipped = 0
    first_tick = None
    for ids, ticks, dropped in _iter_clock_batches(extractor, extractor._ts_key):
        skipped += dropped
        if not len(ids):
            continue
        flat = ticks.reshape(-1)
        if first_tick is None:
            first_tick = int(flat[0])
        diffs = np.diff(flat, prepend=flat[0] - step if previous is None else previous)
        where = np.flatnonzero(diffs != step)
        if len(where):
            before = np.where(
                where > 0, flat[np.maximum(where - 1, 0)], previous if previous is not None else 0
            )
            break_positions.append(where + total)
            break_before.append(before)
            break_after.append(flat[where])
        ids_parts.append(ids)
        first_ticks_parts.append(ticks[:, 0].copy())
        if with_times:
            ticks_parts.append(flat.copy())
        previous = int(flat[-1])
        total += len(flat)
    if total == 0:
        raise GraphError(f"stream '{extractor.spec.name}' has no entries to read.")
    ids = np.concatenate(ids_parts)
    first_ticks = np.concatenate(first_ticks_parts)
    positions = np.concatenate(break_positions) if break_positions else np.zeros(0, np.int64)
    before = np.concatenate(break_before) if break_before else np.zeros(0, np.int64)
    after = np.concatenate(break_after) if break_after else np.zeros(0, np.int64)
    is_reset = after - before <= 0

    # One offset to the session clock per clock epoch (a reset starts a new epoch).
    reset_positions = positions[is_reset]
    entry_epoch = np.searchsorted(reset_positions, np.arange(len(ids)) * samp, side="right")
    redis_s = redis_seconds(ids, extractor.session_start_ms)
    residual = redis_s - first_ticks / tick_rate
    offsets = np.array(
        [float(np.median(residual[entry_epoch == epoch])) for epoch in range(len(reset_positions) + 1)]
    )

    starts = np.concatenate([[0], positions]).astype(np.int64)
    stops = np.concatenate([positions, [total]]).astype(np.int64)
    start_ticks = np.concatenate([[first_tick], after]).astype(np.int64)
    start_epochs = np.searchsorted(reset_positions, starts, side="right")
    t_starts = start_ticks / tick_rate + offsets[start_epochs]
    runs = [_Run(int(a), int(b - a), float(t)) for a, b, t in zip(starts, stops, t_starts)]

    gaps = []
    for number, position in enumerate(positions.tolist()):
        previous_run, next_run = runs[number], runs[number + 1]
        jump = int(after[number] - before[number])
        gaps.append(
            RecordingGap(
                kind="reset" if is_reset[number] else "gap",
                sample_index=int(position),
                segment_index=0 if with_times else number + 1,
                missing_samples=None if is_reset[number] else round(jump / step) - 1,
                previous_end_s=previous_run.t_start + (previous_run.num_samples - 1) / fs,
                next_start_s=next_run.t_start,
                entry_id=str(EntryId(*map(int, ids[position // samp]))),
            )
        )
    times = None
    if with_times and len(runs) > 1:
        ticks = np.concatenate(ticks_parts)
        sample_epoch = np.repeat(start_epochs, stops - starts)
        times = ticks / tick_rate + offsets[sample_epoch]
    return _StreamIndex(ids, runs, gaps, "nsp", skipped), times


def _index_by_entry_clock(
    extractor: BrandRecordingExtractor, with_times: bool
) -> tuple[_StreamIndex, np.ndarray | None]:
    """Index the stream by its entry times: a new run where entries are not one entry period apart (+-50 %)."""
    spec = extractor.spec
    keys = [extractor.key.name] if extractor.on_bad_entry == "skip" else []
    timeline = StreamReader(
        extractor.session.source,
        spec,
        keys=keys,
        batch_size=_index_batch_size(extractor),
        on_bad_entry=extractor.on_bad_entry,
        with_sync=extractor.clock == "sync",
        with_monotonic=extractor.clock == "monotonic",
    ).read()
    if not len(timeline):
        raise GraphError(f"stream '{spec.name}' has no entries to read.")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the fallback count is reported below, with the stream's name
        entry_times = session_entry_times(
            extractor.session,
            extractor.graph,
            spec,
            timeline,
            extractor.clock,
            extractor.session_start_ms,
            extractor.on_bad_entry,
        )
    if entry_times.fallback_entries:
        warnings.warn(
            f"stream '{spec.name}': {entry_times.fallback_entries} entries lack the {extractor.clock} clock's field; "
            "they are stamped with their Redis entry-id time.",
            stacklevel=4,
        )
    fs = extractor.get_sampling_frequency()
    samp = extractor.key.samp
    period = samp / fs
    seconds = entry_times.seconds
    diffs = np.diff(seconds)
    breaks = np.flatnonzero(np.abs(diffs - period) > 0.5 * period) + 1
    bounds = np.concatenate([[0], breaks, [len(seconds)]])
    runs = []
    for first, stop in pairwise(bounds):
        local = seconds[first:stop] - np.arange(stop - first) * period
        runs.append(_Run(int(first * samp), int((stop - first) * samp), float(np.median(local))))
    gaps = []
    for number, entry in enumerate(breaks.tolist()):
        previous_run, next_run = runs[number], runs[number + 1]
        jump = diffs[entry - 1]
        gaps.append(
            RecordingGap(
                kind="gap" if jump > period else "reset",
                sample_index=entry * samp,
                segment_index=0 if with_times else number + 1,
                missing_samples=round((jump - period) * fs) if jump > period else None,
                previous_end_s=previous_run.t_start + (previous_run.num_samples - 1) / fs,
                next_start_s=next_run.t_start,
                entry_id=str(EntryId(*map(int, timeline.ids[entry]))),
            )
        )
    times = None
    if with_times and len(runs) > 1:
        times = np.concatenate([run.t_start + np.arange(run.num_samples) / fs for run in runs])
    # StreamReader already warned about entries it left out.
    return _StreamIndex(timeline.ids, runs, gaps, "entries"), times


#: SpikeInterface's reader-function spelling of :class:`BrandRecordingExtractor` (as ``read_spikeglx`` and friends):
#: ``read_brand("session.rdb", "nsp_neural")``.
read_brand = define_function_from_class(source_class=BrandRecordingExtractor, name="read_brand")
