"""The radialFSM simulation and the trial pairing rule."""

from __future__ import annotations

import numpy as np

from neuroconv_brand.testing import SessionConfig, pair_trial_states
from neuroconv_brand.testing.task import END, GO_CUE, START, simulate_task

S, G, E = START, GO_CUE, END


def test_pairing_rule():
    states = [E, S, G, S, G, E, E, S, E, S, G]
    # leading end and the end after a closed trial are ignored; a superseded start and the trailing one too
    assert pair_trial_states(states) == [(3, 4, 5), (7, None, 8)]
    assert pair_trial_states([]) == []
    assert pair_trial_states([S, G, G, E]) == [(0, 1, 3)]


def _iterations(config: SessionConfig, n_lead: int = 0) -> np.ndarray:
    n = config.n_ticks // config.bin_ms + n_lead
    return np.arange(n, dtype=np.int64) * config.bin_ms * 1_000_000 + 500_000


def test_clean_task_has_only_complete_trials():
    config = SessionConfig(duration_s=6.0)
    trace = simulate_task(config, _iterations(config), 0)
    values = trace.state_values
    assert values[-1] == END and values[0] == START
    assert [(t.start, t.go_cue, t.end) for t in trace.trials] == pair_trial_states(values)
    assert len(trace.trials) == values.count(START) == values.count(END) >= 3
    assert trace.missing_end_start is None and trace.orphan_end is None and trace.unfinished_start is None
    info = trace.streams["trial_info"]
    success = trace.streams["trial_success"]
    state_iter = trace.streams["state"].iteration
    for trial in trace.trials:
        assert info.iteration[trial.trial_info] == state_iter[trial.start]
        assert success.iteration[trial.trial_success] == state_iter[trial.end]
        assert info.fields["cond_id"][trial.trial_info] == f"{trial.target}-0"
        assert success.fields["success"][trial.trial_success, 0, 0] == int(trial.success)
    for name in ("cursorData", "targetData"):
        stream = trace.streams[name]
        assert len(stream.rel_ns) == len(_iterations(config))
        assert all(values.shape == (len(stream.rel_ns), 1, 1) for values in stream.fields.values())


def test_hazard_trials():
    config = SessionConfig(duration_s=5.0, hazards=True, trial_info_vector=True)
    trace = simulate_task(config, _iterations(config, 3), 3)
    values = trace.state_values
    assert values[trace.missing_end_start] == START and values[trace.missing_end_start + 2] == START
    assert values[trace.orphan_end] == END and values[trace.orphan_end - 1] == END
    assert values[trace.unfinished_start] == START and END not in values[trace.unfinished_start :]
    end, start = trace.same_ms_pair
    assert (values[end], values[start]) == (END, START) and start == end + 1
    state = trace.streams["state"]
    assert state.iteration[end] == state.iteration[start]
    assert state.rel_ns[start] - state.rel_ns[end] == 10_000
    starts = {t.start for t in trace.trials}
    assert trace.missing_end_start not in starts and trace.unfinished_start not in starts
    assert [(t.start, t.go_cue, t.end) for t in trace.trials] == pair_trial_states(values)
    assert "task_state" in state.fields
    assert trace.streams["trial_info"].fields["target_pos"].shape[1:] == (1, 2)
    # info/success entries are written around the state entries of their iteration
    info, success = trace.streams["trial_info"], trace.streams["trial_success"]
    for trial in trace.trials:
        assert state.rel_ns[trial.start] < info.rel_ns[trial.trial_info] < state.rel_ns[trial.end]
        assert state.rel_ns[trial.start] < success.rel_ns[trial.trial_success] < state.rel_ns[trial.end]
