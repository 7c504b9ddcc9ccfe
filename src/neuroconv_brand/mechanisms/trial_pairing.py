"""Pair trial start and end states into trials, and find what happened inside each trial.

Pure numpy over entry indices and times: no Redis here.

A BRAND task node writes one entry per state transition into its ``Trial`` stream (``start_time``,
``go_cue_time``, ``end_time``, ...). A trial is a start entry followed by an end entry with no other start or
end in between. That rule never mis-pairs: a start superseded by a second start before any end keeps no
trial, an end without an open start keeps no trial, and a trailing start without an end keeps no trial.
(exportNWB paired the k-th start with the k-th end, which shifts every later trial after one missing event;
see ``docs/differences-from-exportnwb.md``.)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def _empty() -> np.ndarray:
    return np.zeros(0, dtype=np.int64)


@dataclass(frozen=True)
class TrialPairing:
    """The trials found in a sequence of states, and the events that formed none.

    All values are indices into the state sequence.

    Attributes
    ----------
    starts, stops : np.ndarray
        int64 start and end entry of each trial, in order (``starts[k] < stops[k] <= starts[k + 1]``).
    superseded_starts : np.ndarray
        Starts followed by another start before any end (the earlier start has no end).
    orphan_ends : np.ndarray
        Ends with no open start before them.
    unfinished_start : int or None
        The last start, when no end follows it (the session stopped during a trial).
    """

    starts: np.ndarray = field(default_factory=_empty)
    stops: np.ndarray = field(default_factory=_empty)
    superseded_starts: np.ndarray = field(default_factory=_empty)
    orphan_ends: np.ndarray = field(default_factory=_empty)
    unfinished_start: int | None = None

    def __len__(self) -> int:
        return len(self.starts)


def pair_trials(is_start: np.ndarray, is_end: np.ndarray) -> TrialPairing:
    """Pair each start with the next end when no other start or end lies between them.

    Parameters
    ----------
    is_start, is_end : np.ndarray
        Boolean masks over the state sequence: which entries start a trial and which end one.

    Returns
    -------
    TrialPairing

    Raises
    ------
    ValueError
        If the masks differ in length or an entry is marked both start and end.
    """
    is_start = np.asarray(is_start, dtype=bool)
    is_end = np.asarray(is_end, dtype=bool)
    if is_start.shape != is_end.shape or is_start.ndim != 1:
        raise ValueError(
            f"is_start and is_end must be 1-D and equally long, got {is_start.shape} and {is_end.shape}"
        )
    if (is_start & is_end).any():
        raise ValueError(f"entry {int(np.argmax(is_start & is_end))} is marked both start and end of a trial")
    positions = np.flatnonzero(is_start | is_end)
    if len(positions) == 0:
        return TrialPairing()
    kind_is_start = is_start[positions]
    next_is_end = np.zeros(len(positions), dtype=bool)
    next_is_end[:-1] = ~kind_is_start[1:]
    previous_is_start = np.zeros(len(positions), dtype=bool)
    previous_is_start[1:] = kind_is_start[:-1]

    paired = kind_is_start & next_is_end
    unpaired_starts = positions[kind_is_start & ~next_is_end]
    unfinished = None
    if kind_is_start[-1]:
        unfinished = int(positions[-1])
        unpaired_starts = unpaired_starts[:-1]
    return TrialPairing(
        starts=positions[paired].astype(np.int64),
        stops=positions[np.flatnonzero(paired) + 1].astype(np.int64),
        superseded_starts=unpaired_starts.astype(np.int64),
        orphan_ends=positions[~kind_is_start & ~previous_is_start].astype(np.int64),
        unfinished_start=unfinished,
    )


def first_event_between(events: np.ndarray, starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """Per trial, the first event index strictly between its start and end entry, or -1.

    Parameters
    ----------
    events : np.ndarray
        Sorted indices of the entries holding one event (e.g. every ``go_cue_time`` state).
    starts, stops : np.ndarray
        Start and end entry index of each trial.
    """
    events = np.asarray(events, dtype=np.int64)
    starts = np.asarray(starts, dtype=np.int64)
    if len(events) == 0:
        return np.full(len(starts), -1, dtype=np.int64)
    following = np.searchsorted(events, starts, side="right")
    candidate = events[np.minimum(following, len(events) - 1)]
    inside = (following < len(events)) & (candidate < np.asarray(stops, dtype=np.int64))
    return np.where(inside, candidate, -1).astype(np.int64)


def first_samples_in_intervals(times: np.ndarray, starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """Per interval ``[start, stop]`` (both inclusive), the earliest sample inside it not taken by an earlier one.

    Intervals are served in their order; each takes the earliest sample inside it that no earlier interval
    took (samples with equal times in their order in ``times``), or -1 when none is left. So a sample at the
    time where one trial ends and the next starts (same millisecond, same sync label) goes to only one
    trial: the earlier one, unless that trial already has an earlier sample.

    Parameters
    ----------
    times : np.ndarray
        Sample times (any order).
    starts, stops : np.ndarray
        Interval bounds, in the same unit as ``times``.

    Returns
    -------
    np.ndarray
        int64 index into ``times`` per interval, -1 where no sample is left inside it.
    """
    times = np.asarray(times, dtype=np.float64)
    starts = np.asarray(starts, dtype=np.float64)
    stops = np.asarray(stops, dtype=np.float64)
    chosen = np.full(len(starts), -1, dtype=np.int64)
    if len(times) == 0 or len(starts) == 0:
        return chosen
    order = np.argsort(times, kind="stable")
    sorted_times = times[order]
    low = np.searchsorted(sorted_times, starts, side="left")
    high = np.searchsorted(sorted_times, stops, side="right")
    taken = np.zeros(len(order), dtype=bool)
    # One step per interval (trials are few); each step looks only at the samples inside its interval.
    for number, (first, stop) in enumerate(zip(low.tolist(), high.tolist())):
        free = np.flatnonzero(~taken[first:stop])
        if len(free):
            taken[first + free[0]] = True
            chosen[number] = order[first + free[0]]
    return chosen
