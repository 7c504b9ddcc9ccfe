"""Trial pairing and per-trial event/sample lookup: pure numpy, checked against the generator's rule."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from neuroconv_brand.mechanisms.trial_pairing import (
    first_event_between,
    first_samples_in_intervals,
    pair_trials,
)
from neuroconv_brand.testing import pair_trial_states

START, GO, END = "start_time", "go_cue_time", "end_time"


def pair(states):
    states = np.array(states, dtype=object)
    return pair_trials(states == START, states == END)


def test_clean_sequence_pairs_each_start_with_its_end():
    result = pair([START, GO, END, START, GO, END])
    assert result.starts.tolist() == [0, 3]
    assert result.stops.tolist() == [2, 5]
    assert result.superseded_starts.size == result.orphan_ends.size == 0
    assert result.unfinished_start is None


def test_missing_end_does_not_shift_later_trials_exportnwb_bug_10():
    # exportNWB paired the k-th start with the k-th end: here it would pair start 0 with end 4 and start 2 with end 7.
    result = pair([START, GO, START, GO, END, START, GO, END])
    assert list(zip(result.starts.tolist(), result.stops.tolist())) == [(2, 4), (5, 7)]
    assert result.superseded_starts.tolist() == [0]


def test_end_without_start_is_reported_and_not_paired():
    result = pair([END, START, END, END, START, END])
    assert list(zip(result.starts.tolist(), result.stops.tolist())) == [(1, 2), (4, 5)]
    assert result.orphan_ends.tolist() == [0, 3]


def test_unfinished_last_trial_is_dropped():
    result = pair([START, END, START, GO])
    assert result.starts.tolist() == [0] and result.stops.tolist() == [1]
    assert result.unfinished_start == 2
    assert result.superseded_starts.size == 0


def test_no_state_at_all():
    result = pair([GO, GO])
    assert len(result) == 0 and result.unfinished_start is None


def test_a_state_cannot_both_start_and_end():
    with pytest.raises(ValueError, match="entry 1 is marked both start and end"):
        pair_trials(np.array([True, True]), np.array([False, True]))


@given(st.lists(st.sampled_from([START, GO, END, "idle"]), max_size=60))
def test_pairing_equals_the_generators_rule(states):
    result = pair(states)
    expected = pair_trial_states(states)
    assert list(zip(result.starts.tolist(), result.stops.tolist())) == [(s, e) for s, _, e in expected]
    go = first_event_between(
        np.flatnonzero(np.array(states, dtype=object) == GO), result.starts, result.stops
    )
    assert go.tolist() == [-1 if g is None else g for _, g, _ in expected]
    # Every start and end is accounted for exactly once.
    starts = [i for i, s in enumerate(states) if s == START]
    ends = [i for i, s in enumerate(states) if s == END]
    unfinished = [] if result.unfinished_start is None else [result.unfinished_start]
    assert sorted([*result.starts.tolist(), *result.superseded_starts.tolist(), *unfinished]) == starts
    assert sorted([*result.stops.tolist(), *result.orphan_ends.tolist()]) == ends


def test_first_event_between_takes_the_first_and_ignores_events_outside():
    events = np.array([1, 2, 6, 9])
    assert first_event_between(events, np.array([0, 5, 7]), np.array([4, 8, 8])).tolist() == [1, 6, -1]
    assert first_event_between(np.zeros(0, np.int64), np.array([0]), np.array([3])).tolist() == [-1]


def test_samples_inside_intervals_inclusive_bounds():
    times = np.array([0.5, 1.0, 2.0, 3.5, 5.0])
    chosen = first_samples_in_intervals(times, np.array([1.0, 3.0, 6.0]), np.array([2.0, 5.0, 7.0]))
    assert chosen.tolist() == [1, 3, -1]


def test_a_sample_on_a_shared_boundary_serves_one_trial():
    # Trial 0 is [0, 1] and trial 1 is [1, 2] (end and next start in the same millisecond). trial_success of trial 0
    # is written at 1.0, that of trial 1 at 2.0: each trial gets its own.
    success_times = np.array([1.0, 2.0])
    assert first_samples_in_intervals(success_times, np.array([0.0, 1.0]), np.array([1.0, 2.0])).tolist() == [
        0,
        1,
    ]
    # trial_info is written at each start: 0.0 and 1.0; trial 0 takes its earlier one, trial 1 the boundary one.
    info_times = np.array([0.0, 1.0])
    assert first_samples_in_intervals(info_times, np.array([0.0, 1.0]), np.array([1.0, 2.0])).tolist() == [
        0,
        1,
    ]


def test_unsorted_samples_and_equal_times_keep_stream_order():
    times = np.array([3.0, 1.0, 1.0])
    assert first_samples_in_intervals(times, np.array([0.0, 0.0]), np.array([2.0, 4.0])).tolist() == [1, 2]
    assert first_samples_in_intervals(np.zeros(0), np.array([0.0]), np.array([1.0])).tolist() == [-1]
