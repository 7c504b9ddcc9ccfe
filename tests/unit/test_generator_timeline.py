"""The simulated NSP clock: entry ids, lost packets, bursts, resets, bins; deterministic neural payloads."""

from __future__ import annotations

import numpy as np
import pytest

from neuroconv_brand.testing import SessionConfig
from neuroconv_brand.testing.neural import BLOCK_TICKS, NeuralSignals
from neuroconv_brand.testing.timeline import (
    NSP_CLOCK_START,
    TRACKING_ID_START,
    build_timeline,
    entry_ids,
)


def test_entry_ids_number_writes_within_one_millisecond():
    rel_ns = np.array([-1, 0, 999_999, 1_000_000, 1_000_001, 1_500_000, 3_000_000])
    ids = entry_ids(1000, rel_ns)
    assert ids.dtype == np.uint64
    assert ids.tolist() == [[999, 0], [1000, 0], [1000, 1], [1001, 0], [1001, 1], [1001, 2], [1003, 0]]


def test_entry_ids_reject_decreasing_times():
    with pytest.raises(AssertionError):
        entry_ids(1000, np.array([2_000_000, 1_000_000]))


def test_clean_timeline():
    timeline = build_timeline(SessionConfig(duration_s=2.0))
    assert timeline.n_ticks == 2000 and timeline.present.all()
    assert np.array_equal(timeline.ticks, np.arange(2000))
    assert np.all(np.diff(timeline.t_ns) > 0)
    ms = timeline.t_ns // 1_000_000
    assert np.array_equal(ms, np.arange(2000))  # one acquisition entry per millisecond
    assert np.array_equal(timeline.tracking_id, TRACKING_ID_START + np.arange(2000))
    assert np.array_equal(timeline.labels["nsp_idx_1"], timeline.tracking_id)
    assert np.array_equal(
        timeline.nsp_clock["nsp_idx_1"], NSP_CLOCK_START["nsp_idx_1"] + 30 * np.arange(2000)
    )
    assert timeline.bins(20).shape == (100, 20)


def test_gap_reset_and_bursts():
    config = SessionConfig(duration_s=3.0, hazards=True, two_nsps=True, sync_clock="nsp_samples")
    timeline = build_timeline(config)
    first, count = timeline.gap
    assert (first, count) == (900, 7)
    assert not timeline.present[first : first + count].any() and timeline.present.sum() == 3000 - count
    jump = np.flatnonzero(np.diff(timeline.ticks) > 1)
    assert timeline.ticks[jump].tolist() == [first - 1]
    reset = timeline.reset_tick
    assert reset == 1800
    assert (
        timeline.tracking_id[reset] == 0 and timeline.tracking_id[reset - 1] == TRACKING_ID_START + reset - 1
    )
    for label in ("nsp_idx_1", "nsp_idx_2"):
        assert timeline.nsp_clock[label][reset] == 0
        assert np.array_equal(timeline.labels[label], timeline.nsp_clock[label])
    assert np.all(np.diff(timeline.t_ns[timeline.ticks]) > 0)
    ids = entry_ids(config.start_time_ms, timeline.t_ns[timeline.ticks])
    assert len(timeline.burst_starts) > 5
    for start in timeline.burst_starts:
        index = np.searchsorted(timeline.ticks, start)
        assert ids[index : index + 3, 1].tolist() == [0, 1, 2]
        assert len(set(ids[index : index + 3, 0].tolist())) == 1
    bins = timeline.bins(20)
    assert bins.shape == ((3000 - count) // 20, 20)  # bins count entries, so one bin spans the gap


def test_neural_windows_are_reproducible_across_blocks():
    signals = NeuralSignals(seed=3, n_channels=5, samples_per_entry=4)
    ticks = np.arange(BLOCK_TICKS - 10, BLOCK_TICKS + 10)
    whole = signals.crossings(ticks)
    fresh = NeuralSignals(seed=3, n_channels=5, samples_per_entry=4)
    assert np.array_equal(fresh.crossings(ticks[12:]), whole[12:])
    assert set(np.unique(whole).tolist()) <= {0, 1}
    raw = fresh.raw_channel_major(ticks)
    assert raw.shape == (20, 5, 4) and raw.dtype == np.int16
    assert np.array_equal(NeuralSignals(3, 5, 4).raw_channel_major(ticks[::3]), raw[::3])
    assert not np.array_equal(NeuralSignals(4, 5, 4).crossings(ticks), whole)


def test_broadband_raw_has_a_real_nsps_statistics_and_is_reproducible():
    signals = NeuralSignals(seed=5, n_channels=16, samples_per_entry=30, raw_signal="broadband")
    raw = signals.raw_channel_major(np.arange(2 * BLOCK_TICKS))
    assert raw.shape == (2000, 16, 30) and raw.dtype == np.int16
    window = np.arange(BLOCK_TICKS - 7, BLOCK_TICKS + 9)
    fresh = NeuralSignals(5, 16, 30, "broadband").raw_channel_major(window)
    assert np.array_equal(fresh, raw[window])
    series = raw.transpose(0, 2, 1).reshape(-1, 16).astype(np.float64)  # 30 kHz samples x channels
    rms_uv = series.std(axis=0) / 4  # 0.25 uV per count
    expected_uv = np.hypot(signals.lfp_counts, signals.noise_counts) / 4
    np.testing.assert_allclose(rms_uv, expected_uv, rtol=0.4)  # 2 s of a 1/f signal
    assert 10 < rms_uv.min() and rms_uv.max() < 60
    neighbours = np.corrcoef(series[:-1, 0], series[1:, 0])[0, 1]
    assert neighbours > 0.9  # the 1/f local field potential dominates, as on a real electrode
    across = np.corrcoef(series.T)[np.triu_indices(16, 1)]
    assert 0.3 < np.median(across) < 0.9  # the common part of the field potential


def test_raw_signal_must_be_known():
    with pytest.raises(ValueError, match=r"raw_signal='pink': choose one of \('white', 'broadband'\)"):
        NeuralSignals(0, 2, 30, raw_signal="pink")


def test_binned_counts_and_sbp_means():
    signals = NeuralSignals(seed=1, n_channels=3, samples_per_entry=30)
    bin_ticks = np.arange(40).reshape(4, 10)
    binned = signals.binned(bin_ticks, with_sbp=True)
    assert binned.shape == (4, 6) and binned.dtype == np.float32
    crossings = signals.crossings(np.arange(40)).reshape(4, 10, 3)
    assert np.array_equal(binned[:, :3], crossings.sum(axis=1))
    np.testing.assert_allclose(
        binned[:, 3:], signals.sbp(np.arange(40)).reshape(4, 10, 3).mean(axis=1), rtol=1e-6
    )
