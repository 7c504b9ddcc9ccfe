"""What a BRAND graph says about each stream: the contract between graph parsing and stream reading.

:mod:`neuroconv_brand.graph` produces these from a supergraph (any era) plus node YAMLs;
:mod:`neuroconv_brand.reading.stream_reader` and the interfaces consume them. They are plain frozen data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

#: The NWB mechanisms of BRAND's exportNWB, normalised (``Spike_Times`` -> ``SpikeTimes`` etc.).
TypeNwb = Literal["TimeSeries", "Position", "SpikeTimes", "Trial", "TrialInfo"]

_TYPE_NWB_SPELLINGS = {
    "timeseries": "TimeSeries",
    "time_series": "TimeSeries",
    "position": "Position",
    "spiketimes": "SpikeTimes",
    "spike_times": "SpikeTimes",
    "trial": "Trial",
    "trialinfo": "TrialInfo",
    "trial_info": "TrialInfo",
}


def normalize_type_nwb(value: str | None) -> TypeNwb | None:
    """Map every spelling BRAND used (``Time_Series``, ``Spike_Times``, ``Trial_Info``, ...) to one name.

    Returns None for None; raises ValueError for an unknown mechanism.
    """
    if value is None:
        return None
    normalized = _TYPE_NWB_SPELLINGS.get(str(value).strip().lower())
    if normalized is None:
        known = "TimeSeries, Position, SpikeTimes (Spike_Times), Trial, TrialInfo (Trial_Info)"
        raise ValueError(f"unknown type_nwb '{value}'; known: {known}")
    return normalized


@dataclass(frozen=True)
class KeySpec:
    """One field of a stream's entries, as declared in the node YAML.

    Attributes
    ----------
    name : str
        The field name in the Redis entry.
    chan : int
        ``chan_per_stream``: channels per sample.
    samp : int
        ``samp_per_stream``: samples per entry.
    dtype : str
        A numpy dtype name (``"int16"``, ``"float32"``, ...) or ``"str"`` for UTF-8 text.
    layout : {"sample-major", "channel-major"}
        Byte order of the payload: sample-major is C-order ``[samp, chan]`` (BRAND's convention);
        channel-major is ``[chan, samp]`` (cerebusAdapter/cerebusAdapterGem ``samples``).
    nwb : dict or None
        The key's ``nwb:`` block; None when the key has none (then it is not exported).
    """

    name: str
    chan: int = 1
    samp: int = 1
    dtype: str = "float64"
    layout: Literal["sample-major", "channel-major"] = "sample-major"
    nwb: dict | None = None

    @property
    def exported(self) -> bool:
        """True when the key has an ``nwb:`` block (exportNWB's rule)."""
        return self.nwb is not None

    @property
    def is_text(self) -> bool:
        """True for ``sample_type: str`` keys."""
        return self.dtype == "str"

    @property
    def numpy_dtype(self) -> np.dtype:
        """The payload dtype; little-endian as BRAND writes native x86 arrays."""
        if self.is_text:
            raise TypeError(f"key '{self.name}' holds text, not a numeric array")
        return np.dtype(self.dtype).newbyteorder("<")

    @property
    def entry_nbytes(self) -> int:
        """Expected payload length of one entry, in bytes."""
        return self.chan * self.samp * self.numpy_dtype.itemsize


@dataclass(frozen=True)
class SyncTiming:
    """How sync-label counts become seconds: ``sync_timing_hz`` as a scalar or a per-label dict.

    Attributes
    ----------
    default_rate : float
        Rate (Hz) of any label without its own entry (``default_sync_rate``; 1000 Hz when absent, as
        BRAND's documentation promises).
    label_rates : dict
        Per-label rates in Hz.
    """

    default_rate: float = 1000.0
    label_rates: dict[str, float] = field(default_factory=dict)

    def rate_of(self, label: str) -> float:
        """The rate (Hz) of ``label``."""
        return float(self.label_rates.get(label, self.default_rate))


@dataclass(frozen=True)
class StreamSpec:
    """Everything the graph says about one stream.

    Attributes
    ----------
    name : str
        The stream (Redis key) name in the graph.
    type_nwb : str or None
        Normalised mechanism, or None when the stream has no NWB definition.
    enabled : bool
        Effective export switch (graph-level ``enable`` overrides the node's ``enable_nwb``).
    enable_reason : str
        Why ``enabled`` has its value, for ``inspect`` ("graph enable: false", "node enable_nwb: true", ...).
    keys : dict
        Every declared field, by name.
    sync_labels : list of str
        The graph's ``sync`` list for the stream (blocking label first); may be empty.
    rate : float or None
        Declared entry rate in Hz (graph ``rate``), if any.
    sync_key, time_key : str
        Field names of the sync label and the monotonic timestamp (graph ``sync_key``/``time_key``).
    sync_timing : SyncTiming
        Rates of the sync labels.
    source_nickname : str or None
        The node that writes the stream.
    comments : dict
        Graph-level ``comments`` for the stream.
    """

    name: str
    type_nwb: TypeNwb | None = None
    enabled: bool = False
    enable_reason: str = ""
    keys: dict[str, KeySpec] = field(default_factory=dict)
    sync_labels: list[str] = field(default_factory=list)
    rate: float | None = None
    sync_key: str = "sync"
    time_key: str = "ts"
    sync_timing: SyncTiming = field(default_factory=SyncTiming)
    source_nickname: str | None = None
    comments: dict = field(default_factory=dict)

    @property
    def exported_keys(self) -> dict[str, KeySpec]:
        """The keys that have an ``nwb:`` block."""
        return {name: key for name, key in self.keys.items() if key.exported}

    @property
    def exported_numeric_keys(self) -> dict[str, KeySpec]:
        """The exported keys that hold numbers (not ``sample_type: str`` text)."""
        return {name: key for name, key in self.exported_keys.items() if not key.is_text}
