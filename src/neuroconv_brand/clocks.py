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
fall back to their Redis time, and the fallback is counted in the :class:`EntryTimes` report.
Pure functions over numpy arrays: no Redis here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from itertools import pairwise
from typing import Literal

import numpy as np

from .specs import StreamSpec
from .streams import EntryBatch

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


def compute_entry_times(spec: StreamSpec, timeline: EntryBatch, clock: Clock, start_ms: int) -> EntryTimes:
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
    """
    if clock not in CLOCKS:
        raise ValueError(f"clock must be one of {CLOCKS}, not {clock!r}")
    redis_s = redis_seconds(timeline.ids, start_ms)
    if clock == "redis" or len(redis_s) == 0:
        return EntryTimes(redis_s, clock)
    if clock == "monotonic":
        stamps = timeline.monotonic_ns
        present = stamps > 0 if stamps is not None else np.zeros(len(redis_s), dtype=bool)
        return _map_segments(
            stamps.astype(np.float64) / 1e9 if stamps is not None else redis_s,
            present,
            redis_s,
            "monotonic",
            None,
            reset_aware=False,
        )
    label = blocking_label(spec, timeline)
    if label is None or label not in timeline.sync.values:
        return EntryTimes(redis_s, "sync", label, fallback_entries=len(redis_s))
    counts = timeline.sync.values[label]
    present = timeline.sync.present[label]
    label_s = counts / spec.sync_timing.rate_of(label)
    return _map_segments(label_s, present, redis_s, "sync", label, reset_aware=True)


def _map_segments(
    clock_s: np.ndarray,
    present: np.ndarray,
    redis_s: np.ndarray,
    clock: Clock,
    label: str | None,
    reset_aware: bool,
) -> EntryTimes:
    seconds = redis_s.copy()
    valid = np.flatnonzero(present)
    if len(valid) == 0:
        return EntryTimes(seconds, clock, label, fallback_entries=len(seconds))
    resets_in_valid = find_resets(clock_s[valid]) if reset_aware else np.zeros(0, dtype=np.int64)
    bounds = np.concatenate([[0], resets_in_valid, [len(valid)]])
    for first, last in pairwise(bounds):
        segment = valid[first:last]
        offset = robust_offset(redis_s[segment], clock_s[segment])
        seconds[segment] = clock_s[segment] + offset
    return EntryTimes(
        seconds,
        clock,
        label,
        resets=valid[resets_in_valid].astype(np.int64),
        fallback_entries=int(len(seconds) - len(valid)),
    )


def entry_rate(times: np.ndarray, declared: float | None) -> float | None:
    """Entries per second: the declared rate, else 1 / median spacing (None for fewer than 2 entries)."""
    if declared:
        return float(declared)
    if len(times) < 2:
        return None
    spacing = float(np.median(np.diff(times)))
    return 1.0 / spacing if spacing > 0 else None


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
