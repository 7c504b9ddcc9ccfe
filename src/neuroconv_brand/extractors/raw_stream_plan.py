"""What the recording of a raw stream reads, resolved from the graph and the stream's first entry.

:func:`plan_raw_stream` checks the options of a recording (key, sampling frequency, gain, timing, clock) and
gives the :class:`~.recording_index.RawStream` its pass reads. It needs no SpikeInterface: ``neuroconv-brand
convert`` plans and starts the pass over a raw stream first, and imports SpikeInterface and NeuroConv while the
workers decode (:func:`start_raw_pass`). :class:`~.recording_extractor.BrandRecordingExtractor` plans the same way,
so it finds that pass's index instead of reading the stream again.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ..errors import ConfigurationError, GraphError, StreamDecodeError
from ..graph.acquisition import is_acquisition_stream
from ..graph.stream_specs import KeySpec, StreamSpec
from ..graph.supergraph import Graph
from ..reading.decoding import OnBadEntry
from ..sources.session import BrandSession, find_stream_spec
from ..timing.clocks import Clock
from ..timing.session_start import session_start_ms
from .recording_index import RawStream, RecordingIndex, index_stream

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
class RawStreamPlan:
    """A raw stream's recording, resolved: what its pass reads and the rates and gain of its samples.

    Attributes
    ----------
    raw : RawStream
        What the pass reads (stream, key, clock field, clock step).
    sampling_frequency : float
        Samples per second.
    tick_rate : float
        Ticks per second of the NSP clock field (the sampling frequency unless given).
    gain_to_uv : float
        Microvolts per stored unit.
    session_start_ms : int
        ``session_start_time`` in Unix ms.
    """

    raw: RawStream
    sampling_frequency: float
    tick_rate: float
    gain_to_uv: float
    session_start_ms: int

    @property
    def spec(self) -> StreamSpec:
        """The stream."""
        return self.raw.spec

    @property
    def key(self) -> KeySpec:
        """The key holding the samples."""
        return self.raw.key

    @property
    def timing(self) -> Literal["nsp", "entries"]:
        """What stamps the samples: the NSP clock field, or the entry clock."""
        return "entries" if self.raw.timestamps is None else "nsp"


def plan_raw_stream(
    session: BrandSession,
    graph: Graph,
    stream_name: str,
    key: str = "samples",
    sampling_frequency: float | None = None,
    gain_to_uv: float | None = None,
    timing: Timing = "auto",
    timestamps_key: str = "timestamps",
    timestamps_rate: float | None = None,
    gaps: GapMode = "segments",
    clock: Clock = "sync",
    on_bad_entry: OnBadEntry = "raise",
) -> RawStreamPlan:
    """Check a recording's options against the graph and the stream's first entry, and plan its pass.

    The parameters are :class:`~.recording_extractor.BrandRecordingExtractor`'s.

    Raises
    ------
    RecordingConfigurationError
        An option outside its choices, a rate or gain that is not a positive/non-zero number, a clock rate that
        is not a whole multiple of the sampling frequency.
    GraphError
        No such stream or key, a text key, no sampling rate or voltage unit in the graph.
    StreamDecodeError
        ``timing="nsp"`` and the first entry has no clock field of 4 or 8 bytes per sample or entry.
    """
    check_choice("timing", timing, ("auto", "nsp", "entries"))
    check_choice("gaps", gaps, ("segments", "timestamps"))
    check_choice("clock", clock, ("sync", "monotonic", "redis"))
    check_choice("on_bad_entry", on_bad_entry, ("raise", "skip"))
    spec = find_stream_spec(session, graph, stream_name)
    samples = _samples_key(spec, key)
    where = f"stream '{stream_name}', key '{key}'"
    fs = _sampling_frequency(graph, spec, samples, sampling_frequency, where)
    gain = _gain(samples, gain_to_uv, where)
    start_ms = session_start_ms(session, graph)
    resolved = _resolve_timing(session, spec, timing, timestamps_key)
    rate = float(timestamps_rate) if timestamps_rate else fs
    timestamps = (
        _timestamps_keyspec(session, spec, samples, timestamps_key, where) if resolved == "nsp" else None
    )
    step = _clock_step(spec, timestamps_key, rate, fs) if resolved == "nsp" else 1
    raw = RawStream(spec, samples, timestamps, on_bad_entry, clock, step, gaps == "timestamps")
    return RawStreamPlan(raw, fs, rate, gain, start_ms)


def start_raw_pass(session: BrandSession, graph: Graph, plan: RawStreamPlan, workers: int) -> RecordingIndex:
    """Read the planned stream once (``workers`` processes); the recording extractor of the same plan reuses it.

    :attr:`~neuroconv_brand.sources.context.SessionContext.while_reading` hooks run in this process meanwhile.
    """
    return index_stream(
        session, graph, plan.raw, plan.sampling_frequency, plan.tick_rate, plan.session_start_ms, workers
    )


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


def check_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    """Raise :class:`RecordingConfigurationError` unless ``value`` is one of ``allowed``."""
    if value not in allowed:
        raise RecordingConfigurationError(f"{name} must be one of {allowed}, not {value!r}.")


def _samples_key(spec: StreamSpec, key: str) -> KeySpec:
    found = spec.keys.get(key)
    if found is None:
        known = ", ".join(sorted(spec.keys)) or "none"
        raise GraphError(
            f"stream '{spec.name}' declares no key '{key}' (declared: {known}); pass key= with the field "
            "that holds the samples."
        )
    if found.is_text:
        raise GraphError(f"stream '{spec.name}', key '{key}' holds text (sample_type: str), not samples.")
    return found


def _sampling_frequency(
    graph: Graph, spec: StreamSpec, key: KeySpec, given: float | None, where: str
) -> float:
    if given is not None:
        if not (math.isfinite(given) and given > 0):
            raise RecordingConfigurationError(f"{where}: sampling_frequency must be positive, got {given}.")
        return float(given)
    if spec.rate:
        return float(spec.rate) * key.samp
    # Only an acquisition node's samp_freq is its output rate (nsp_all's is the rate of its input).
    from_node = node_sampling_frequency(graph, spec)
    if from_node is not None and is_acquisition_stream(graph, spec):
        return from_node
    raise GraphError(
        f"{where}: the graph gives no sampling rate (no 'rate' for the stream in the exportNWB configuration, "
        f"and '{spec.source_nickname}' is not an acquisition node with a 'samp_freq' parameter); pass "
        "sampling_frequency=."
    )


def _gain(key: KeySpec, given: float | None, where: str) -> float:
    if given is not None:
        if not (math.isfinite(given) and given != 0):
            raise RecordingConfigurationError(f"{where}: gain_to_uv must be a non-zero number, got {given}.")
        return float(given)
    unit = (key.nwb or {}).get("unit")
    gain = gain_from_unit(unit)
    if gain is None:
        raise GraphError(
            f"{where}: the unit {unit!r} of the node YAML's nwb block is not a voltage ('0.25uV', 'uV', 'mV', "
            "...), so the gain to microvolts is unknown; pass gain_to_uv=."
        )
    return gain


def _resolve_timing(
    session: BrandSession, spec: StreamSpec, timing: Timing, timestamps_key: str
) -> Literal["nsp", "entries"]:
    if timing != "auto":
        return timing
    first = session.source.read_range(spec.name, count=1)
    has_clock = bool(first) and timestamps_key.encode() in first[0][1]
    return "nsp" if has_clock else "entries"


def _timestamps_keyspec(
    session: BrandSession, spec: StreamSpec, key: KeySpec, timestamps_key: str, where: str
) -> KeySpec:
    first = session.source.read_range(spec.name, count=1)
    if not first:
        raise GraphError(f"{where}: the stream has no entries.")
    raw_id, fields = first[0]
    payload = fields.get(timestamps_key.encode())
    if payload is None:
        raise StreamDecodeError(
            f"stream '{spec.name}', entry {raw_id.decode()}: no field '{timestamps_key}' (timing='nsp' "
            "needs the NSP clock per sample); use timing='entries' or name the field with timestamps_key=."
        )
    for per_entry in (key.samp, 1):
        for dtype in ("uint64", "uint32"):
            if len(payload) == per_entry * np.dtype(dtype).itemsize:
                return KeySpec(timestamps_key, chan=1, samp=per_entry, dtype=dtype)
    raise StreamDecodeError(
        f"stream '{spec.name}', entry {raw_id.decode()}, key '{timestamps_key}': payload is {len(payload)} "
        f"bytes; expected 8 or 4 bytes per sample ({key.samp} samples) or per entry. Use timing='entries' "
        "if this field is not the NSP sample clock."
    )


def _clock_step(spec: StreamSpec, timestamps_key: str, tick_rate: float, fs: float) -> int:
    """NSP ticks from one sample to the next (the clock rate must be a whole multiple of the sampling rate)."""
    step_float = tick_rate / fs
    step = round(step_float)
    if step < 1 or abs(step_float - step) > 1e-9 * step_float:
        raise RecordingConfigurationError(
            f"stream '{spec.name}': the clock rate {tick_rate} Hz is not a whole multiple of the sampling "
            f"frequency {fs} Hz; pass timestamps_rate= (ticks per second of '{timestamps_key}') or use "
            "timing='entries'."
        )
    return step
