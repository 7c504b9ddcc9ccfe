"""The simulated NSP clock: one tick per millisecond, with write times, lost packets, bursts and resets.

Every time here is in nanoseconds relative to ``SessionConfig.start_time_ms`` ("rel ns"). The wall clock
of a write is ``start_time_ms + rel_ns // 1e6`` (the Redis id's ms) and its ``CLOCK_MONOTONIC`` reading is
``monotonic_offset_ns + rel_ns``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import SessionConfig

TICK_NS = 1_000_000
NSP_SAMPLE_RATE = 30_000
#: tracking_id of the first tick (the adapter has been running ~2 minutes).
TRACKING_ID_START = 120_000
#: NSP sample clocks of the first tick's first sample.
NSP_CLOCK_START = {"nsp_idx_1": 30 * TRACKING_ID_START + 17, "nsp_idx_2": 5_400_211}
#: The acquisition entry of tick k is written at k ms + [ACQ_MIN_NS, ACQ_MIN_NS + ACQ_JITTER_NS].
ACQ_MIN_NS = 200_000
ACQ_JITTER_NS = 300_000
#: Same-ms hazard: a burst of BURST_LEN ticks every BURST_PERIOD ticks, starting at BURST_PHASE.
BURST_PERIOD = 250
BURST_PHASE = 123
BURST_LEN = 3
BURST_SPACING_NS = 10_000


@dataclass(frozen=True)
class NspTimeline:
    """The NSP pipeline's clocks per tick.

    Attributes
    ----------
    n_ticks : int
        Ticks in the session (1 per ms, lost ones included).
    t_ns : ndarray of int64
        Write time (rel ns) of each tick's acquisition entry.
    present : ndarray of bool
        False for ticks lost in the dropped-packet gap.
    ticks : ndarray of int64
        Indices of present ticks: entry ``i`` of every 1 kHz stream belongs to tick ``ticks[i]``.
    tracking_id : ndarray of int64
        cerebusAdapter's tracking id per tick (+1 per tick, restarts at 0 at the reset).
    nsp_clock : dict
        Per NSP label, the 30 kHz sample count of each tick's first sample.
    labels : dict
        Sync label values per tick (``nsp_idx_1`` = tracking id or NSP 1 clock, ``nsp_idx_2`` = NSP 2
        clock).
    reset_tick : int or None
        First tick after the NSP restart.
    gap : tuple of int or None
        ``(first_tick, count)`` of lost ticks.
    burst_starts : ndarray of int64
        First tick of every same-millisecond burst.
    """

    n_ticks: int
    t_ns: np.ndarray
    present: np.ndarray
    ticks: np.ndarray
    tracking_id: np.ndarray
    nsp_clock: dict[str, np.ndarray]
    labels: dict[str, np.ndarray]
    reset_tick: int | None
    gap: tuple[int, int] | None
    burst_starts: np.ndarray

    def bins(self, bin_size: int) -> np.ndarray:
        """Ticks of each complete bin, shape ``(n_bins, bin_size)``: consecutive present ticks.

        bin_multiple counts input entries, so a bin that spans the lost packets simply lasts longer.
        """
        n_bins = len(self.ticks) // bin_size
        return self.ticks[: n_bins * bin_size].reshape(n_bins, bin_size)


def build_timeline(config: SessionConfig) -> NspTimeline:
    """Simulate the NSP clock for ``config`` (deterministic in ``config.seed``)."""
    n = config.n_ticks
    rng = np.random.default_rng([config.seed, 11])
    k = np.arange(n, dtype=np.int64)
    t_ns = k * TICK_NS + ACQ_MIN_NS + rng.integers(0, ACQ_JITTER_NS + 1, n, dtype=np.int64)

    present = np.ones(n, dtype=bool)
    gap = config.dropped_ticks
    if gap is not None:
        present[gap[0] : gap[0] + gap[1]] = False

    burst_starts = np.zeros(0, dtype=np.int64)
    if config.hazard("same_ms_entries"):
        candidates = np.arange(BURST_PHASE, n - BURST_LEN, BURST_PERIOD, dtype=np.int64)
        window = np.lib.stride_tricks.sliding_window_view(present, BURST_LEN)
        burst_starts = candidates[window[candidates].all(axis=1)]
        last = burst_starts + BURST_LEN - 1
        for offset in range(BURST_LEN - 1):
            # Earlier packets of the burst are written just before the last one, in its millisecond.
            t_ns[burst_starts + offset] = t_ns[last] - (BURST_LEN - 1 - offset) * BURST_SPACING_NS

    reset = config.nsp_reset_tick
    since_start = k.copy()
    tracking_id = TRACKING_ID_START + k
    if reset is not None:
        tracking_id[reset:] = k[reset:] - reset
        since_start[reset:] = k[reset:] - reset
    nsp_clock = {}
    for label in config.nsp_label_rates:
        clock = NSP_CLOCK_START[label] + NSP_SAMPLE_RATE // 1000 * k
        if reset is not None:
            clock[reset:] = NSP_SAMPLE_RATE // 1000 * since_start[reset:]
        nsp_clock[label] = clock
    labels = {label: nsp_clock[label] for label in nsp_clock}
    if config.sync_clock == "tracking_id":
        labels["nsp_idx_1"] = tracking_id
    return NspTimeline(
        n_ticks=n,
        t_ns=t_ns,
        present=present,
        ticks=np.flatnonzero(present).astype(np.int64),
        tracking_id=tracking_id,
        nsp_clock=nsp_clock,
        labels=labels,
        reset_tick=reset,
        gap=gap,
        burst_starts=burst_starts,
    )


def entry_ids(start_time_ms: int, rel_ns: np.ndarray) -> np.ndarray:
    """Redis ids ``(ms, seq)`` (uint64, shape ``(n, 2)``) of writes at non-decreasing ``rel_ns``.

    Writes in the same millisecond get sequence numbers 0, 1, 2, ... as Redis assigns them.
    """
    rel_ns = np.asarray(rel_ns, dtype=np.int64)
    ms = start_time_ms + np.floor_divide(rel_ns, TICK_NS)
    if len(ms) > 1 and np.any(np.diff(ms) < 0):
        raise AssertionError("write times of one stream must not decrease")
    index = np.arange(len(ms), dtype=np.int64)
    new_ms = np.ones(len(ms), dtype=bool)
    new_ms[1:] = ms[1:] != ms[:-1]
    seq = index - np.maximum.accumulate(np.where(new_ms, index, 0))
    return np.stack([ms, seq], axis=1).astype(np.uint64)


def derived_write_times(
    base_ns: np.ndarray, latency_ns: int, rng: np.random.Generator, jitter_ns: int = 5_000
) -> np.ndarray:
    """Write times of a stream computed from entries written at ``base_ns`` (processing latency + jitter).

    The jitter stays below the burst spacing so the order of the inputs is kept.
    """
    return base_ns + latency_ns + rng.integers(0, jitter_ns + 1, len(base_ns), dtype=np.int64)
