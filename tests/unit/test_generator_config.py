"""SessionConfig: defaults, hazard resolution, derived values and every validation error."""

from __future__ import annotations

import dataclasses

import pytest

from neuroconv_brand.errors import BrandError
from neuroconv_brand.testing import HAZARD_OPTIONS, SessionConfig, SessionConfigError


def test_defaults_are_a_clean_session():
    config = SessionConfig()
    assert config.n_channels == 128
    assert config.n_ticks == 5000
    assert config.era == "2025"
    assert not any(config.hazard(name) for name in HAZARD_OPTIONS)
    assert config.sync_timing_hz == 1000
    assert config.raw_stream == "nsp_neural"
    assert config.trial_state_key == "state"
    assert config.resolved_ts_encoding == "uint64"
    assert config.nsp_reset_tick is None and config.dropped_ticks is None


def test_hazards_switch_every_hazard_on_and_single_ones_can_be_overridden():
    config = SessionConfig(hazards=True, nsp_reset=False)
    assert {name for name in HAZARD_OPTIONS if config.hazard(name)} == set(HAZARD_OPTIONS) - {"nsp_reset"}
    assert config.trial_state_key == "task_state"
    assert config.dropped_ticks == (1500, 7)
    assert SessionConfig(hazards=True).nsp_reset_tick == 3000
    only = SessionConfig(empty_sync=True)
    assert only.hazard("empty_sync") and not only.hazard("orphan_trial_events")


def test_task_hazards_follow_the_task_switch():
    config = SessionConfig(hazards=True, task=False)
    assert not config.hazard("unfinished_trial")
    assert config.hazard("nsp_reset")


def test_sync_timing_per_label_with_two_nsps_and_the_sample_clock():
    config = SessionConfig(two_nsps=True, sync_clock="nsp_samples")
    assert config.nsp_label_rates == {"nsp_idx_1": 30000, "nsp_idx_2": 30000}
    assert config.sync_timing_hz == {"nsp_idx_1": 30000, "nsp_idx_2": 30000, "default_sync_rate": 1000}
    assert SessionConfig(two_nsps=True).sync_timing_hz == {
        "nsp_idx_1": 1000,
        "nsp_idx_2": 30000,
        "default_sync_rate": 1000,
    }


def test_era_defaults_and_raw_variant():
    assert SessionConfig(era="2022-07").resolved_ts_encoding == "ascii"
    assert SessionConfig(era="2022-07", ts_encoding="uint64").resolved_ts_encoding == "uint64"
    assert SessionConfig(raw_layout="sample-major").raw_stream == "continuousNeural"


def test_replace_keeps_explicit_hazards():
    config = dataclasses.replace(SessionConfig(hazards=True, empty_sync=False), hazards=False)
    assert not config.hazard("empty_sync") and not config.hazard("nsp_reset")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"era": "2021"}, "SessionConfig.era='2021': unknown era"),
        ({"duration_s": 0.1}, "duration_s=0.1: must be at least 0.2 s"),
        ({"duration_s": float("nan")}, "must be a finite number"),
        ({"n_arrays": 0}, "n_arrays=0: must be a positive integer"),
        ({"channels_per_array": 2.5}, "channels_per_array=2.5: must be a positive integer"),
        ({"channels_per_array": 40000}, "more than 65535 channels"),
        ({"bin_ms": 3000}, "needs at least two bins"),
        ({"raw_layout": "interleaved"}, "raw_layout='interleaved': choose one of"),
        ({"raw_signal": "pink"}, "SessionConfig.raw_signal='pink': choose one of"),
        ({"sync_clock": "wall"}, "sync_clock='wall'"),
        ({"bin_features": "crossings+sbp", "sbp": False}, "bin_features='crossings+sbp': needs sbp=True"),
        ({"era": "2022-07", "sync_clock": "nsp_samples"}, "divides sync by 1000"),
        ({"era": "2022-core", "two_nsps": True}, "needs era 2023 or later"),
        ({"two_nsps": True, "n_arrays": 1}, "needs n_arrays >= 2"),
        ({"task": False, "empty_sync": True}, "empty_sync=True: needs task=True"),
        ({"hazards": True, "duration_s": 2.0}, "need duration_s >= 3.0"),
        ({"nsp_reset": True, "nsp_reset_s": 4.99}, "nsp_reset_s=4.99: must lie at least 50 ms inside"),
        ({"dropped_packets": True, "dropped_packets_s": 0.0}, "the gap must lie at least 50 ms inside"),
        ({"dropped_packets": True, "dropped_packets_n": 0}, "dropped_packets_n=0: must be >= 1"),
        (
            {"hazards": True, "nsp_reset_s": 1.5, "dropped_packets_s": 1.5},
            "the gap must not touch the NSP reset",
        ),
        ({"start_time_ms": 5}, "start_time_ms >= 10000"),
    ],
)
def test_invalid_options_raise_a_named_error(options, message):
    with pytest.raises(SessionConfigError, match=message.replace("(", r"\(").replace("+", r"\+")) as info:
        SessionConfig(**options)
    assert isinstance(info.value, BrandError) and isinstance(info.value, ValueError)


def test_unknown_hazard_name():
    with pytest.raises(SessionConfigError, match="unknown hazard 'fire'"):
        SessionConfig().hazard("fire")
