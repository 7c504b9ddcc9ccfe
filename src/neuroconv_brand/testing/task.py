"""A radialFSM (brand-tutorial cursor-control) simulation: cursor/target kinematics, trial states and info.

The task loop runs once per ``binned_spikes`` bin (the decoder consumes a bin, the FSM consumes the decoder
output), plus optional leading iterations before the first bin whose ``sync`` is still ``{}``. Every
write is timed inside its loop iteration so that, within one iteration, ``trial_success`` precedes the
``end_time`` state entry and ``trial_info`` follows the ``start_time`` entry: then each trial's info and
success entries lie inside ``[start, end]`` on every clock (sync label, ``ts`` and Redis id).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .config import SessionConfig

START, GO_CUE, END = "start_time", "go_cue_time", "end_time"
N_TARGETS = 8
TARGET_DISTANCE = 300.0
TARGET_RADIUS = 40.0
CURSOR_RADIUS = 15.0
DWELL_TIME = 0.5
#: Offsets (ns) of each write inside a loop iteration.
_OFFSET = {
    "cursorData": 0,
    "targetData": 10_000,
    "trial_success": 20_000,
    "state": 30_000,
    "trial_info": 60_000,
}


@dataclass
class _Trial:
    start: int
    go: int | None
    end: int | None
    target: int
    success: bool


@dataclass(frozen=True)
class TaskStream:
    """The entries of one task stream.

    Attributes
    ----------
    rel_ns : ndarray of int64
        Write times (ns after ``start_time_ms``).
    iteration : ndarray of int64
        The FSM loop iteration of each entry (its ``i`` field and the source of its sync labels).
    fields : dict
        Logical payloads: numeric ``(n, samp, chan)`` arrays, text as 1-D object arrays of str.
    """

    rel_ns: np.ndarray
    iteration: np.ndarray
    fields: dict[str, np.ndarray]


@dataclass(frozen=True)
class ScheduledTrial:
    """One complete trial, by entry index in the task streams."""

    start: int
    go_cue: int | None
    end: int
    trial_info: int
    trial_success: int
    target: int
    success: bool


@dataclass(frozen=True)
class TaskTrace:
    """Everything the task wrote, plus where the scripted hazards are (``state`` entry indices)."""

    streams: dict[str, TaskStream]
    trials: list[ScheduledTrial]
    missing_end_start: int | None = None
    orphan_end: int | None = None
    unfinished_start: int | None = None
    same_ms_pair: tuple[int, int] | None = None
    state_values: list[str] = field(default_factory=list)


def pair_trial_states(values: Sequence[str]) -> list[tuple[int, int | None, int]]:
    """Trials a correct converter keeps from a sequence of state strings: ``(start, go_cue, end)`` indices.

    A trial is a ``start_time`` followed by an ``end_time`` with no other start in between; its go cue is the
    first ``go_cue_time`` in between (or None). A start superseded by a later start, an end without an open
    start, and a trailing start without an end produce no trial.
    """
    trials = []
    start = go = None
    for index, value in enumerate(values):
        if value == START:
            start, go = index, None
        elif value == GO_CUE and start is not None and go is None:
            go = index
        elif value == END and start is not None:
            trials.append((start, go, index))
            start = go = None
    return trials


def simulate_task(config: SessionConfig, iteration_ns: np.ndarray, first_bin_iteration: int) -> TaskTrace:
    """Run the FSM over loop iterations written at ``iteration_ns`` (rel ns).

    Iterations before ``first_bin_iteration`` happen before the first decoder output (empty sync).
    """
    n_iter = len(iteration_ns)
    rng = np.random.default_rng([config.seed, 31])

    def iters(ms: float) -> int:
        return max(1, round(ms / config.bin_ms))

    trials: list[_Trial] = []
    orphan_ends: list[int] = []
    hazard_marks: dict[str, object] = {}

    def new_trial(start: int, go: int | None, end: int | None) -> _Trial:
        trial = _Trial(start, go, end, int(rng.integers(N_TARGETS)), bool(rng.random() < 0.85))
        trials.append(trial)
        return trial

    cursor = first_bin_iteration + iters(100)
    if config.trial_hazards and config.hazard("orphan_trial_events"):
        aborted = new_trial(cursor, cursor + iters(200), None)
        hazard_marks["aborted"] = aborted
        start = aborted.go + iters(200)
        kept = new_trial(start, start + iters(200), start + iters(500))
        orphan_ends.append(kept.end + iters(100))
        cursor = orphan_ends[-1] + iters(100)
    if config.trial_hazards and config.hazard("same_ms_entries"):
        first = new_trial(cursor, cursor + iters(200), cursor + iters(500))
        second = new_trial(first.end, first.end + iters(200), first.end + iters(500))
        hazard_marks["same_ms"] = (first, second)
        cursor = second.end + iters(100)
    while True:
        delay, move = iters(rng.uniform(200, 400)), iters(rng.uniform(300, 700))
        if cursor + delay + move >= n_iter:
            break
        trial = new_trial(cursor, cursor + delay, cursor + delay + move)
        cursor = trial.end + iters(rng.uniform(100, 300))
    if config.hazard("unfinished_trial") and trials:
        delay = iters(300)
        if cursor < n_iter:
            hazard_marks["unfinished"] = new_trial(
                cursor, cursor + delay if cursor + delay < n_iter else None, None
            )
        else:
            trials[-1].end = None
            hazard_marks["unfinished"] = trials[-1]

    return _assemble(config, iteration_ns, first_bin_iteration, trials, orphan_ends, hazard_marks, rng)


def _assemble(
    config: SessionConfig,
    iteration_ns: np.ndarray,
    first_bin_iteration: int,
    trials: list[_Trial],
    orphan_ends: list[int],
    marks: dict[str, object],
    rng: np.random.Generator,
) -> TaskTrace:
    # State events: (iteration, order, value, trial); an end precedes a start in the same iteration.
    events = []
    for number, trial in enumerate(trials):
        events.append((trial.start, 1, START, number))
        if trial.go is not None:
            events.append((trial.go, 2, GO_CUE, number))
        if trial.end is not None:
            events.append((trial.end, 0, END, number))
    events += [(iteration, 0, END, None) for iteration in orphan_ends]
    events.sort(key=lambda event: (event[0], event[1]))

    state_iter = np.array([event[0] for event in events], dtype=np.int64)
    slot = np.zeros(len(events), dtype=np.int64)
    for index in range(1, len(events)):
        if state_iter[index] == state_iter[index - 1]:
            slot[index] = slot[index - 1] + 1
    state_ns = iteration_ns[state_iter] + _OFFSET["state"] + 10_000 * slot
    state_values = [event[2] for event in events]
    state_index = {(event[3], event[2]): index for index, event in enumerate(events) if event[3] is not None}

    info_trials = list(range(len(trials)))
    success_trials = [number for number, trial in enumerate(trials) if trial.end is not None]
    info_iter = np.array([trials[n].start for n in info_trials], dtype=np.int64)
    success_iter = np.array([trials[n].end for n in success_trials], dtype=np.int64)

    streams = {
        **_kinematics(config, iteration_ns, trials, rng),
        "state": TaskStream(
            rel_ns=state_ns,
            iteration=state_iter,
            fields={config.trial_state_key: np.array(state_values, dtype=object)},
        ),
        "trial_success": TaskStream(
            rel_ns=iteration_ns[success_iter] + _OFFSET["trial_success"],
            iteration=success_iter,
            fields={"success": _column([trials[n].success for n in success_trials], np.uint8)},
        ),
        "trial_info": TaskStream(
            rel_ns=iteration_ns[info_iter] + _OFFSET["trial_info"],
            iteration=info_iter,
            fields=_trial_info_fields(config, [trials[n] for n in info_trials]),
        ),
    }
    complete = []
    for number, trial in enumerate(trials):
        if trial.end is None:
            continue
        complete.append(
            ScheduledTrial(
                start=state_index[(number, START)],
                go_cue=state_index.get((number, GO_CUE)),
                end=state_index[(number, END)],
                trial_info=info_trials.index(number),
                trial_success=success_trials.index(number),
                target=trial.target,
                success=trial.success,
            )
        )
    pair = marks.get("same_ms")
    unfinished = marks.get("unfinished")
    aborted = marks.get("aborted")
    return TaskTrace(
        streams=streams,
        trials=complete,
        missing_end_start=state_index[(_number_of(trials, aborted), START)] if aborted else None,
        orphan_end=_orphan_index(events),
        unfinished_start=state_index[(_number_of(trials, unfinished), START)] if unfinished else None,
        same_ms_pair=(
            (
                state_index[(_number_of(trials, pair[0]), END)],
                state_index[(_number_of(trials, pair[1]), START)],
            )
            if pair
            else None
        ),
        state_values=state_values,
    )


def _number_of(trials: list[_Trial], trial: object) -> int | None:
    for number, candidate in enumerate(trials):
        if candidate is trial:
            return number
    return None


def _orphan_index(events: list[tuple]) -> int | None:
    for index, event in enumerate(events):
        if event[3] is None:
            return index
    return None


def _column(values: Sequence, dtype: type, width: int = 1) -> np.ndarray:
    return np.asarray(values, dtype=dtype).reshape(-1, 1, width)


def _target_xy(target: int) -> tuple[float, float]:
    angle = 2 * np.pi * target / N_TARGETS
    return TARGET_DISTANCE * np.cos(angle), TARGET_DISTANCE * np.sin(angle)


def _trial_info_fields(config: SessionConfig, trials: list[_Trial]) -> dict[str, np.ndarray]:
    xy = np.array([_target_xy(trial.target) for trial in trials], dtype=np.float32).reshape(-1, 2)
    n = len(trials)
    fields = {
        "target_X": _column(xy[:, 0], np.float32),
        "target_Y": _column(xy[:, 1], np.float32),
        "start_X": _column(np.zeros(n), np.float32),
        "start_Y": _column(np.zeros(n), np.float32),
        "target_radius": _column(np.full(n, TARGET_RADIUS), np.float32),
        "cursor_radius": _column(np.full(n, CURSOR_RADIUS), np.float32),
        "dwell_time": _column(np.full(n, DWELL_TIME), np.float32),
        "cond_id": np.array([f"{trial.target}-0" for trial in trials], dtype=object),
    }
    if config.trial_info_vector:
        fields["target_pos"] = _column(xy, np.float32, width=2)
    return fields


def _kinematics(
    config: SessionConfig, iteration_ns: np.ndarray, trials: list[_Trial], rng: np.random.Generator
) -> dict[str, TaskStream]:
    n_iter = len(iteration_ns)
    target_x = np.zeros(n_iter)
    target_y = np.zeros(n_iter)
    target_state = np.zeros(n_iter, dtype=np.int32)
    cursor_x = rng.normal(0.0, 1.5, n_iter)
    cursor_y = rng.normal(0.0, 1.5, n_iter)
    active = np.zeros(n_iter, dtype=bool)
    for number, trial in enumerate(trials):
        following = trials[number + 1].start if number + 1 < len(trials) else n_iter
        stop = min(trial.end if trial.end is not None else following, n_iter)
        tx, ty = _target_xy(trial.target)
        target_x[trial.start : stop], target_y[trial.start : stop] = tx, ty
        active[trial.start : stop] = True
        go = trial.go if trial.go is not None else stop
        target_state[trial.start : go] = 1
        target_state[go:stop] = 2
        if go < stop:
            duration = max(1, (trial.end if trial.end is not None else go + 25) - go)
            progress = np.clip((np.arange(go, stop) - go + 1) / duration, 0.0, 1.0)
            reach = 10 * progress**3 - 15 * progress**4 + 6 * progress**5
            cursor_x[go:stop] += tx * reach
            cursor_y[go:stop] += ty * reach
    inside = active & (np.hypot(cursor_x - target_x, cursor_y - target_y) < TARGET_RADIUS)
    iteration = np.arange(n_iter, dtype=np.int64)
    return {
        "cursorData": TaskStream(
            rel_ns=iteration_ns + _OFFSET["cursorData"],
            iteration=iteration,
            fields={
                "X": _column(cursor_x, np.float32),
                "Y": _column(cursor_y, np.float32),
                "radius": _column(np.full(n_iter, CURSOR_RADIUS), np.float32),
                "state": _column(inside, np.int32),
            },
        ),
        "targetData": TaskStream(
            rel_ns=iteration_ns + _OFFSET["targetData"],
            iteration=iteration,
            fields={
                "X": _column(target_x, np.float32),
                "Y": _column(target_y, np.float32),
                "radius": _column(np.full(n_iter, TARGET_RADIUS), np.float32),
                "state": _column(target_state, np.int32),
            },
        ),
    }
