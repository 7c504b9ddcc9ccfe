"""Clocks: turn what a stream carries (sync labels, monotonic ns, Redis ids) into session seconds.

Every written time is seconds since ``session_start_time`` (a wall-clock time from the Redis entry ids).
Three clocks can stamp a stream:

``sync`` (default)
    The blocking sync label divided by its rate (``sync_timing_hz``, per label). Label clocks (NSP sample
    counters, tracking ids) have their own zero, so each is mapped onto the session axis by a robust offset:
    the median of ``redis_time - label_time`` over the stream's entries. A label that decreases marks a clock
    reset (an NSP restart); each segment between resets gets its own offset, so no data are dropped.
``monotonic``
    The ``ts`` field (CLOCK_MONOTONIC ns), mapped with the median offset to the Redis clock.
``redis``
    The entry id's milliseconds (ties within one millisecond keep the same time).

Entries that lack what the chosen clock needs (an empty ``{}`` sync written before a node's first input)
fall back to their Redis time minus the stream's median publication latency (so they stay in order with the
stream's other entries), and the fallback is counted in the :class:`EntryTimes` report.
Pure functions over numpy arrays: no Redis here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from itertools import pairwise
from typing import Literal

import numpy as np

from ..graph.stream_specs import StreamSpec
from ..reading.stream_reader import EntryBatch

Clock = Literal["sync", "monotonic", "redis"]
CLOCKS: tuple[Clock, ...] = ("sync", "monotonic", "redis")


def session_start_datetime(start_ms: int) -> datetime:
    """A timezone-aware UTC datetime for Unix milliseconds ``start_ms``."""
    return datetime.fromtimestamp(start_ms / 1000, tz=timezone.utc)


def redis_seconds(ids: np.ndarray, start_ms: int) -> np.ndarray:
    """Entry-id times as seconds since ``start_ms`` (millisecond resolution)."""
    return (ids[:, 0].astype(np.int64) - np.int64(start_ms)) / 1000.0


def find_resets(values: np.ndarray) -> np.ndarray:
    """Indices ``i`` where ``values[i] < values[i - 1]``: the first entry after each clock reset."""
    return np.flatnonzero(np.diff(values) < 0) + 1


def robust_offset(reference: np.ndarray, clock: np.ndarray) -> float:
    """The median of ``reference - clock``: the offset that maps ``clock`` onto ``reference``."""
    return float(np.median(reference - clock))


@dataclass(frozen=True)
class EntryTimes:
    """The session times of a stream's entries and how they were obtained.

    Attributes
    ----------
    seconds : np.ndarray
        float64 seconds since ``session_start_time``, one per entry.
    clock : str
        The clock that stamped the entries.
    label : str or None
        The sync label used (``clock == "sync"``).
    resets : np.ndarray
        Entry indices where the label clock restarted (each starts a segment with its own offset).
    fallback_entries : int
        Entries stamped with their Redis time because they lacked the chosen clock's field.
    """

    seconds: np.ndarray
    clock: Clock
    label: str | None = None
    resets: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    fallback_entries: int = 0


def blocking_label(spec: StreamSpec, timeline: EntryBatch) -> str | None:
    """The label that stamps the stream: the graph's first ``sync`` label, else the first one in the data."""
    if spec.sync_labels:
        return spec.sync_labels[0]
    if timeline.sync is not None and timeline.sync.values:
        return next(iter(timeline.sync.values))
    return None


@dataclass(frozen=True)
class ClockReading:
    """One stream's readings of a clock, in seconds, next to its Redis times.

    Attributes
    ----------
    clock : str
        Which clock was read.
    label : str or None
        The sync label (``clock == "sync"``).
    clock_s : np.ndarray
        The clock's value at each entry, in seconds on its own axis (label / rate, or monotonic s).
    present : np.ndarray
        Whether each entry carried the clock's field.
    redis_s : np.ndarray
        Each entry's Redis time, seconds since ``session_start_time``.
    reset_aware : bool
        Whether the clock can restart (sync labels can; CLOCK_MONOTONIC cannot).
    """

    clock: Clock
    label: str | None
    clock_s: np.ndarray
    present: np.ndarray
    redis_s: np.ndarray
    reset_aware: bool

    def segments(self) -> tuple[np.ndarray, list[np.ndarray]]:
        """Reset positions (entry indices) and the entry indices of each segment between resets."""
        valid = np.flatnonzero(self.present)
        resets = find_resets(self.clock_s[valid]) if self.reset_aware else np.zeros(0, dtype=np.int64)
        bounds = np.concatenate([[0], resets, [len(valid)]]).astype(np.int64)
        return valid[resets].astype(np.int64), [valid[first:last] for first, last in pairwise(bounds)]


@dataclass(frozen=True)
class ClockFit:
    """How a clock maps onto the session axis: one offset per segment between clock resets.

    ``session_time = clock_time + offsets_s[k]`` in segment ``k``; segment ``k >= 1`` starts at Redis time
    ``segment_starts_s[k - 1]`` (seconds since ``session_start_time``). Fitted once per session on the largest
    stream carrying the clock, so every stream stamped by the clock shares it.
    """

    offsets_s: np.ndarray
    segment_starts_s: np.ndarray

    def offset_for(self, redis_s: np.ndarray) -> float:
        """The offset of the segment that holds entries at Redis times ``redis_s`` (their median decides)."""
        index = int(np.searchsorted(self.segment_starts_s, np.median(redis_s), side="right"))
        return float(self.offsets_s[min(index, len(self.offsets_s) - 1)])


def read_clock(spec: StreamSpec, timeline: EntryBatch, clock: Clock, start_ms: int) -> ClockReading:
    """Extract ``clock``'s readings from a stream's timeline (see :class:`ClockReading`)."""
    if clock not in CLOCKS:
        raise ValueError(f"clock must be one of {CLOCKS}, not {clock!r}")
    redis_s = redis_seconds(timeline.ids, start_ms)
    nothing = np.zeros(len(redis_s), dtype=bool)
    if clock == "redis":
        return ClockReading("redis", None, redis_s, ~nothing, redis_s, reset_aware=False)
    if clock == "monotonic":
        stamps = timeline.monotonic_ns
        if stamps is None:
            return ClockReading("monotonic", None, redis_s, nothing, redis_s, reset_aware=False)
        return ClockReading("monotonic", None, stamps.astype(np.float64) / 1e9, stamps > 0, redis_s, False)
    label = blocking_label(spec, timeline)
    if label is None or timeline.sync is None or label not in timeline.sync.values:
        return ClockReading("sync", label, redis_s, nothing, redis_s, reset_aware=True)
    label_s = timeline.sync.values[label] / spec.sync_timing.rate_of(label)
    return ClockReading("sync", label, label_s, timeline.sync.present[label], redis_s, reset_aware=True)


def fit_clock(reading: ClockReading) -> ClockFit | None:
    """Fit per-segment offsets (median of ``redis - clock``) on a reading; None if no entry carries the clock."""
    _, segments = reading.segments()
    segments = [segment for segment in segments if len(segment)]
    if not segments:
        return None
    offsets = [robust_offset(reading.redis_s[segment], reading.clock_s[segment]) for segment in segments]
    starts = [reading.redis_s[segment[0]] for segment in segments[1:]]
    return ClockFit(np.array(offsets), np.array(starts, dtype=np.float64))


def monotonic_offset(
    spec: StreamSpec, timeline: EntryBatch, start_ms: int, fit: ClockFit | None = None
) -> float | None:
    """What maps the stream's ``ts`` seconds onto the session axis; None when no entry has ``ts``.

    :func:`compute_entry_times` with the monotonic clock stamps every entry that has ``ts`` with
    ``ts / 1e9 + monotonic_offset(...)`` (CLOCK_MONOTONIC does not reset, so one offset serves the stream).
    """
    reading = read_clock(spec, timeline, "monotonic", start_ms)
    if not reading.present.any():
        return None
    fit = fit or fit_clock(reading)
    return fit.offset_for(reading.redis_s[reading.present]) if fit is not None else None


def compute_entry_times(
    spec: StreamSpec, timeline: EntryBatch, clock: Clock, start_ms: int, fit: ClockFit | None = None
) -> EntryTimes:
    """Session times of every entry of one stream with ``clock``.

    Parameters
    ----------
    spec : StreamSpec
        The stream's definition (sync labels and their rates).
    timeline : EntryBatch
        The whole stream's ids, sync labels and monotonic stamps (no data keys needed).
    clock : {"sync", "monotonic", "redis"}
        What stamps the entries.
    start_ms : int
        ``session_start_time`` in Unix milliseconds.
    fit : ClockFit, optional
        The session's fit of this clock (shared by all streams); fitted on this stream alone when None.
    """
    reading = read_clock(spec, timeline, clock, start_ms)
    seconds = reading.redis_s.copy()
    if clock == "redis":
        return EntryTimes(seconds, clock)
    fit = fit or fit_clock(reading)
    resets, segments = reading.segments()
    if fit is None:
        return EntryTimes(seconds, clock, reading.label, fallback_entries=len(seconds))
    for segment in segments:
        if len(segment):
            offset = fit.offset_for(reading.redis_s[segment])
            seconds[segment] = reading.clock_s[segment] + offset
    missing = ~reading.present
    if missing.any() and reading.present.any():
        # Redis time minus the stream's typical publication latency: on the same axis as its clocked entries.
        latency = float(np.median(reading.redis_s[reading.present] - seconds[reading.present]))
        seconds[missing] = reading.redis_s[missing] - latency
    return EntryTimes(
        seconds,
        clock,
        reading.label,
        resets=resets,
        fallback_entries=int(len(seconds) - reading.present.sum()),
    )


def entry_rate(times: np.ndarray, declared: float | None) -> float | None:
    """Entries per second: the declared rate, else 1 / median spacing (None for fewer than 2 entries)."""
    if declared:
        return float(declared)
    if len(times) < 2:
        return None
    spacing = float(np.median(np.diff(times)))
    return 1.0 / spacing if spacing > 0 else None


def sample_rate(times: np.ndarray, declared: float | None, samples_per_entry: int) -> float | None:
    """Samples per second of entries holding ``samples_per_entry`` samples each: the entry rate x samples per entry.

    None when the entry rate is unknown (see :func:`entry_rate`).
    """
    rate = entry_rate(times, declared)
    return rate * samples_per_entry if rate else None


def sample_times(entry_seconds: np.ndarray, samples_per_entry: int, sample_rate: float | None) -> np.ndarray:
    """Times of every sample when an entry holds ``samples_per_entry`` samples (the entry time stamps the first).

    Sample ``k`` of an entry is at ``entry_time + k / sample_rate``.
    """
    if samples_per_entry == 1:
        return entry_seconds
    if not sample_rate:
        raise ValueError("a sample rate is needed to unroll multi-sample entries")
    steps = np.arange(samples_per_entry) / sample_rate
    return (entry_seconds[:, None] + steps[None, :]).ravel()


def regular_rate(times: np.ndarray, tolerance_s: float = 1e-9) -> float | None:
    """The rate if ``times`` are evenly spaced to within ``tolerance_s``, else None (write timestamps).

    The rate is rounded to a micro-hertz so that a 1 kHz label clock gives ``1000.0``, not ``999.9999999952``.
    """
    if len(times) < 2:
        return None
    step = float(times[-1] - times[0]) / (len(times) - 1)
    if step <= 0 or np.abs(np.diff(times) - step).max() > max(tolerance_s, step * 1e-9):
        return None
    return round(1.0 / step, 6)


def series_timing(times: np.ndarray) -> dict:
    """A series' timing arguments: ``starting_time`` + ``rate`` for evenly spaced times, else ``timestamps``."""
    rate = regular_rate(times)
    if rate is not None:
        return dict(starting_time=float(times[0]), rate=rate)
    return dict(timestamps=times)
