"""The options of a synthetic BRAND session: one frozen dataclass, validated on construction."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from .errors import SessionConfigError

Era = Literal["2022-07", "2022-core", "2023", "2024", "2025"]
#: Supergraph eras, oldest first (each described in :mod:`neuroconv_brand.graph.eras`).
ERAS: tuple[str, ...] = ("2022-07", "2022-core", "2023", "2024", "2025")

#: Hazard options that follow ``hazards`` when left at None.
HAZARD_OPTIONS: tuple[str, ...] = (
    "empty_sync",
    "unfinished_trial",
    "same_ms_entries",
    "orphan_trial_events",
    "nsp_reset",
    "dropped_packets",
    "extra_sync_labels",
    "position_extra_nwb",
    "custom_trial_state_key",
)
#: Hazards that need the radialFSM task streams.
_TASK_HAZARDS = frozenset(
    {
        "empty_sync",
        "unfinished_trial",
        "orphan_trial_events",
        "extra_sync_labels",
        "position_extra_nwb",
        "custom_trial_state_key",
    }
)
#: Shortest session (s) that holds the scripted hazard trials.
MIN_DURATION_FOR_TRIAL_HAZARDS = 3.0


@dataclass(frozen=True)
class SessionConfig:
    """What :func:`~neuroconv_brand.testing.generate_session` writes.

    Every option has a default, so ``SessionConfig()`` is a clean 5 s, 2 x 64 channel, 2025-era session
    without raw data and without hazards. Invalid combinations raise :class:`SessionConfigError`.

    Parameters
    ----------
    duration_s : float
        Length of the recorded data in seconds (the NSP writes 1000 entries per second).
    n_arrays : int
        Number of implanted arrays (one implant per array in the participant YAML).
    channels_per_array : int
        Electrodes per array. 64 -> device ``NeuroPort8x8``, 96 -> ``NeuroPort10x10``, anything else a
        device named ``UtahArray<n>``.
    era : {"2022-07", "2022-core", "2023", "2024", "2025"}
        Supergraph era. "2025" writes compiled ``streams`` into the model and no node YAML files;
        every other era writes node YAML files under a BRAND base directory (see
        :func:`~neuroconv_brand.testing.generate_session`). "2022-07" uses literal numbers in node YAMLs
        (that exporter could not substitute ``$params``), stream-level ``sync`` lists and ASCII ``ts``.
    raw : bool
        Also write the raw broadband stream (1 kHz entries of ``samples_per_entry`` samples at 30 kHz).
        When False the raw node stays in the graph but its stream is absent, as after BRAND's
        ``saveRDB`` ``flush_streams_before_save``; it is listed in ``SyntheticSession.absent_streams``.
    raw_layout : {"channel-major", "sample-major"}
        "channel-major": cerebusAdapterGem's ``nsp_neural`` (``samples`` int16 C-order ``[chan, samp]``,
        ``timestamps`` uint64, ``BRANDS_time``/``udp_recv_time``/``write_timestamp`` struct timeval,
        ``tracking_id`` uint64). "sample-major": the Stavisky-lab ``continuousNeural`` variant
        (``samples`` int16 ``[samp, chan]``, ``timestamps`` int64, float64 second clocks, ``tracking_id``
        int64).
    samples_per_entry : int
        30 kHz samples per raw entry (BRAND's ``samp_per_stream``, 30 -> 1 kHz entries).
    raw_signal : {"white", "broadband"}
        The raw samples: "white" uniform int8 noise (fast to make), or "broadband", Gaussian noise with a real
        NSP's spectrum and amplitudes (1/f local field potential partly common to all channels, a noise
        floor, 0.25 uV per count; :class:`~neuroconv_brand.testing.neural.NeuralSignals`), for benchmarks.
        Both carry a spike at every threshold crossing.
    hazards : bool
        Default of every hazard option below that is left at None.
    seed : int
        Seed of every random choice; equal configs give byte-identical sessions.
    start_time_ms : int
        Simulated wall clock (Unix ms) of the first NSP tick; entry ids derive from it.
    monotonic_offset_ns : int
        Simulated ``CLOCK_MONOTONIC`` (ns) at ``start_time_ms``; ``ts`` fields and ``graph_loaded_ts``
        use it.
    participant_id : str
        Participant id (participant YAML ``metadata.participant_id``, file name ``<id>.yaml``).
    graph_name : str
        The graph's name (supergraph ``graph_name``).
    description : str
        Session description (exportNWB ``description``; 2022-07: ``metadata.session_description``).
    split_arrays : bool
        One ``thresh_cross_<a>``/``sbp_<a>`` stream per array (one ``nsp_all_<a>`` node each, several graph
        streams mapping to one node-YAML stream) instead of single ``thresh_cross``/``sbp`` streams.
    sbp : bool
        Write the spike-band-power streams.
    sync_clock : {"tracking_id", "nsp_samples"}
        What ``nsp_idx_1`` counts: the 1 kHz ``tracking_id`` (``sync_timing_hz: 1000``) or the NSP's 30 kHz
        sample clock (30000).
    two_nsps : bool
        Add a second NSP: label ``nsp_idx_2`` (its 30 kHz sample clock). Array 1 is on NSP 1, the others
        on NSP 2; per-array streams carry their NSP's label, combined streams both. ``sync_timing_hz``
        becomes ``{nsp_idx_1: ..., nsp_idx_2: 30000, default_sync_rate: 1000}``. The raw stream (all
        channels) keeps NSP 1's clock and tracking id. Needs ``n_arrays >= 2`` and era 2023 or later.
    bin_ms : int
        ``binned_spikes`` bin width in ms (bin_multiple's ``bin_size`` 1 kHz entries).
    bin_features : {"crossings", "crossings+sbp"}
        ``binned_spikes.samples``: crossing counts (n_channels values) or counts then mean SBP
        (2 * n_channels values, needs ``sbp``).
    task : bool
        Write the radialFSM task streams (``cursorData``, ``targetData``, ``state``, ``trial_success``,
        ``trial_info``).
    trial_info_vector : bool
        Add the vector key ``target_pos`` (float32 x 2) to ``trial_info``.
    norm_bp : bool
        calcThreshNorm's ``norm_bp`` form: ``normalization_parameters`` holds 2 * n_channels means/stds
        (crossings then band power) instead of n_channels.
    array_map : bool
        Write one array-map CSV per implant (columns ``electrode,x,y,z``; electrode = 0-based index within
        the array, coordinates in um) and reference it from the participant YAML (``array_map``, a path
        relative to the participant YAML's folder).
    array_map_format : {"csv", "cmp"}
        The array maps' format: this package's CSV, or Blackrock Central ``.cmp`` files
        (``<participant>_array<k>.cmp``: comment lines, a description line, then ``col row bank elec label`` lines
        in grid order, CRLF line ends) that scatter the channels over the grid (seeded) and label each electrode
        ``elec<cell>``.
    supergraph_update : bool
        Write a second ``supergraph_stream`` entry mid-session (an ``updateParameters`` re-XADD of the whole
        model with a changed ``description`` and ``thresh_mult``); readers must use the latest entry.
    find_reset_stream : bool
        Add exportNWB's ``find_reset_stream: binned_spikes`` and ``reset_keys: [nsp_idx_1]``.
    ts_encoding : {"uint64", "ascii"} or None
        ``ts`` as 8-byte little-endian uint64 ns, or as ASCII seconds with 9 decimals (pre 2022-08).
        None: "ascii" for era "2022-07", else "uint64".
    empty_sync : bool or None
        Hazard: ``cursorData``/``targetData`` start with 3 entries whose ``sync`` is ``{}`` (written before
        the first decoder output).
    unfinished_trial : bool or None
        Hazard: the last trial has a start (and go cue) but no end.
    same_ms_entries : bool or None
        Hazard: bursts of 3 NSP entries in one millisecond (ids ``<ms>-0``, ``-1``, ``-2``) about every
        250 ms, and one trial end and the next start in the same millisecond of ``state``.
    orphan_trial_events : bool or None
        Hazard: a trial whose end is missing (start, go, start, go, end) and an end without a start.
    nsp_reset : bool or None
        Hazard: the NSP restarts at ``nsp_reset_s``: tracking id and NSP clocks restart from 0.
    nsp_reset_s : float or None
        Time of the reset (default 0.6 * duration_s).
    dropped_packets : bool or None
        Hazard: ``dropped_packets_n`` consecutive NSP ticks are lost at ``dropped_packets_s``: no entry in
        any 1 kHz stream, and tracking id / NSP timestamps jump across the gap.
    dropped_packets_s : float or None
        Time of the gap (default 0.3 * duration_s).
    dropped_packets_n : int
        Number of lost ticks.
    extra_sync_labels : bool or None
        Hazard: ``cursorData`` entries also carry a ``decoder_idx`` label that is not in the graph's
        ``sync`` list.
    position_extra_nwb : bool or None
        Hazard: the ``cursorData.X`` key's ``nwb:`` block has an extra non-SpatialSeries key ``foo: 1``.
    custom_trial_state_key : bool or None
        Hazard: the ``state`` stream's key is ``task_state`` (``nwb: {trial_state: task_state}``).

    Notes
    -----
    Hazards that need the task are off when ``task`` is False (and an error when set to True explicitly).
    ``dataclasses.replace`` keeps explicitly set hazard options; only None follows ``hazards``.
    """

    duration_s: float = 5.0
    n_arrays: int = 2
    channels_per_array: int = 64
    era: Era = "2025"
    raw: bool = False
    raw_layout: Literal["channel-major", "sample-major"] = "channel-major"
    samples_per_entry: int = 30
    raw_signal: Literal["white", "broadband"] = "white"
    hazards: bool = False
    seed: int = 0
    start_time_ms: int = 1_700_000_000_000
    monotonic_offset_ns: int = 12_590_134_766_400
    participant_id: str = "t0"
    graph_name: str = "sim_radial8"
    description: str = "Synthetic BRAND radial-8 cursor task session (neuroconv_brand.testing)"
    split_arrays: bool = False
    sbp: bool = True
    sync_clock: Literal["tracking_id", "nsp_samples"] = "tracking_id"
    two_nsps: bool = False
    bin_ms: int = 20
    bin_features: Literal["crossings", "crossings+sbp"] = "crossings"
    task: bool = True
    trial_info_vector: bool = False
    norm_bp: bool = False
    array_map: bool = True
    array_map_format: Literal["csv", "cmp"] = "csv"
    supergraph_update: bool = False
    find_reset_stream: bool = False
    ts_encoding: Literal["uint64", "ascii"] | None = None
    empty_sync: bool | None = None
    unfinished_trial: bool | None = None
    same_ms_entries: bool | None = None
    orphan_trial_events: bool | None = None
    nsp_reset: bool | None = None
    nsp_reset_s: float | None = None
    dropped_packets: bool | None = None
    dropped_packets_s: float | None = None
    dropped_packets_n: int = 7
    extra_sync_labels: bool | None = None
    position_extra_nwb: bool | None = None
    custom_trial_state_key: bool | None = None

    def __post_init__(self) -> None:
        _validate(self)

    # ----------------------------------------------------------------------------- derived values
    @property
    def n_channels(self) -> int:
        """Total electrodes (``n_arrays * channels_per_array``)."""
        return self.n_arrays * self.channels_per_array

    @property
    def n_ticks(self) -> int:
        """Number of 1 ms NSP ticks in the session (including lost ones)."""
        return round(self.duration_s * 1000)

    @property
    def raw_stream(self) -> str:
        """Name of the raw stream, ``nsp_neural`` (channel-major) or ``continuousNeural``."""
        return "nsp_neural" if self.raw_layout == "channel-major" else "continuousNeural"

    @property
    def resolved_ts_encoding(self) -> str:
        """``ts_encoding`` with the era default applied."""
        if self.ts_encoding is not None:
            return self.ts_encoding
        return "ascii" if self.era == "2022-07" else "uint64"

    @property
    def trial_state_key(self) -> str:
        """Key of the ``state`` stream holding the trial state strings."""
        return "task_state" if self.hazard("custom_trial_state_key") else "state"

    @property
    def nsp_label_rates(self) -> dict[str, int]:
        """Sync labels of the NSP pipeline and their rates in Hz."""
        rates = {"nsp_idx_1": 1000 if self.sync_clock == "tracking_id" else 30000}
        if self.two_nsps:
            rates["nsp_idx_2"] = 30000
        return rates

    @property
    def sync_timing_hz(self) -> int | dict[str, int]:
        """ExportNWB's ``sync_timing_hz`` value for this session (scalar, or per-label dict)."""
        rates = self.nsp_label_rates
        if len(rates) == 1:
            return rates["nsp_idx_1"]
        return {**rates, "default_sync_rate": 1000}

    def hazard(self, name: str) -> bool:
        """Whether hazard option ``name`` (one of :data:`HAZARD_OPTIONS`) is on."""
        if name not in HAZARD_OPTIONS:
            raise SessionConfigError(f"unknown hazard '{name}'; known: {', '.join(HAZARD_OPTIONS)}")
        if name in _TASK_HAZARDS and not self.task:
            return False
        value = getattr(self, name)
        return self.hazards if value is None else bool(value)

    @property
    def nsp_reset_tick(self) -> int | None:
        """Tick at which the NSP clocks restart, or None."""
        if not self.hazard("nsp_reset"):
            return None
        seconds = self.nsp_reset_s if self.nsp_reset_s is not None else 0.6 * self.duration_s
        return round(seconds * 1000)

    @property
    def dropped_ticks(self) -> tuple[int, int] | None:
        """``(first_tick, count)`` of the lost NSP packets, or None."""
        if not self.hazard("dropped_packets"):
            return None
        seconds = self.dropped_packets_s if self.dropped_packets_s is not None else 0.3 * self.duration_s
        return round(seconds * 1000), int(self.dropped_packets_n)

    @property
    def trial_hazards(self) -> bool:
        """True when a scripted hazard trial sequence is needed."""
        return (
            any(self.hazard(name) for name in ("unfinished_trial", "orphan_trial_events", "same_ms_entries"))
            and self.task
        )


def _fail(option: str, value: object, problem: str) -> None:
    raise SessionConfigError(f"SessionConfig.{option}={value!r}: {problem}")


def _validate(config: SessionConfig) -> None:
    if config.era not in ERAS:
        _fail("era", config.era, f"unknown era; choose one of {', '.join(ERAS)}")
    if not (isinstance(config.duration_s, int | float) and math.isfinite(config.duration_s)):
        _fail("duration_s", config.duration_s, "must be a finite number of seconds")
    if config.duration_s < 0.2:
        _fail("duration_s", config.duration_s, "must be at least 0.2 s")
    for option in ("n_arrays", "channels_per_array", "samples_per_entry", "bin_ms"):
        value = getattr(config, option)
        if not isinstance(value, int) or value < 1:
            _fail(option, value, "must be a positive integer")
    if config.n_channels > 65535:
        _fail("channels_per_array", config.channels_per_array, "more than 65535 channels in total")
    if config.bin_ms * 2 > config.n_ticks:
        _fail("bin_ms", config.bin_ms, f"needs at least two bins in duration_s={config.duration_s}")
    choices = {
        "raw_layout": ("channel-major", "sample-major"),
        "raw_signal": ("white", "broadband"),
        "sync_clock": ("tracking_id", "nsp_samples"),
        "bin_features": ("crossings", "crossings+sbp"),
        "ts_encoding": (None, "uint64", "ascii"),
        "array_map_format": ("csv", "cmp"),
    }
    for option, allowed in choices.items():
        if getattr(config, option) not in allowed:
            _fail(option, getattr(config, option), f"choose one of {allowed}")
    if config.start_time_ms < 10_000 or config.monotonic_offset_ns < 60 * 10**9:
        _fail("start_time_ms", config.start_time_ms, "start_time_ms >= 10000 and monotonic_offset_ns >= 60 s")
    if config.array_map_format == "cmp" and config.channels_per_array > 256:
        _fail(
            "channels_per_array",
            config.channels_per_array,
            "a .cmp map holds at most 256 channels (banks A..H)",
        )
    if config.bin_features == "crossings+sbp" and not config.sbp:
        _fail("bin_features", config.bin_features, "needs sbp=True")
    if config.era == "2022-07" and (config.sync_clock != "tracking_id" or config.two_nsps):
        _fail("era", config.era, "the 2022-07 exporter divides sync by 1000: use one NSP and tracking_id")
    if config.two_nsps and config.era in ("2022-07", "2022-core"):
        _fail("two_nsps", True, "per-label sync_timing_hz needs era 2023 or later")
    if config.two_nsps and config.n_arrays < 2:
        _fail("two_nsps", True, "needs n_arrays >= 2 (array 1 on NSP 1, the others on NSP 2)")
    if not config.task:
        for name in _TASK_HAZARDS:
            if getattr(config, name):
                _fail(name, True, "needs task=True")
    if config.trial_hazards and config.duration_s < MIN_DURATION_FOR_TRIAL_HAZARDS:
        _fail(
            "duration_s",
            config.duration_s,
            f"the scripted hazard trials need duration_s >= {MIN_DURATION_FOR_TRIAL_HAZARDS}; "
            "lengthen the session or switch unfinished_trial/orphan_trial_events/same_ms_entries off",
        )
    reset, gap = config.nsp_reset_tick, config.dropped_ticks
    if reset is not None and not 50 <= reset <= config.n_ticks - 50:
        _fail("nsp_reset_s", config.nsp_reset_s, "must lie at least 50 ms inside the session")
    if gap is not None:
        if config.dropped_packets_n < 1:
            _fail("dropped_packets_n", config.dropped_packets_n, "must be >= 1")
        if not (50 <= gap[0] and gap[0] + gap[1] <= config.n_ticks - 50):
            _fail("dropped_packets_s", config.dropped_packets_s, "the gap must lie at least 50 ms inside")
        if reset is not None and gap[0] - 10 <= reset <= gap[0] + gap[1] + 10:
            _fail("dropped_packets_s", config.dropped_packets_s, "the gap must not touch the NSP reset")
