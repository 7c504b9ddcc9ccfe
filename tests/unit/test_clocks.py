import json

import numpy as np
import pytest

from neuroconv_brand.graph.stream_specs import StreamSpec, SyncTiming
from neuroconv_brand.reading.decoding import decode_sync
from neuroconv_brand.reading.stream_reader import EntryBatch
from neuroconv_brand.timing.clocks import (
    compute_entry_times,
    entry_rate,
    find_resets,
    fit_clock,
    read_clock,
    regular_rate,
    sample_times,
    session_start_datetime,
)

START_MS = 1_700_000_000_000


def make_timeline(ids_ms, labels=None, monotonic_ns=None, seqs=None):
    ids = np.column_stack([np.asarray(ids_ms, np.uint64), np.asarray(seqs or [0] * len(ids_ms), np.uint64)])
    raw_ids = [f"{ms}-0".encode() for ms in ids_ms]
    sync = decode_sync([json.dumps(d).encode() for d in labels], "s", raw_ids) if labels is not None else None
    mono = None if monotonic_ns is None else np.asarray(monotonic_ns, np.uint64)
    return EntryBatch("s", ids, {}, sync, mono)


def test_session_start_is_timezone_aware_utc():
    start = session_start_datetime(START_MS)
    assert start.tzinfo is not None and start.utcoffset().total_seconds() == 0
    assert start.isoformat() == "2023-11-14T22:13:20+00:00"


def test_redis_clock_is_id_milliseconds_since_start():
    timeline = make_timeline([START_MS + 5, START_MS + 5, START_MS + 7])
    times = compute_entry_times(StreamSpec("s"), timeline, "redis", START_MS)
    np.testing.assert_allclose(times.seconds, [0.005, 0.005, 0.007])


def test_sync_clock_maps_labels_with_a_robust_offset():
    # label at 1 kHz starting at 500; Redis ids lag 2 ms, with one 40 ms outlier that the median ignores
    labels = np.arange(500, 600)
    ids_ms = START_MS + 100 + (labels - 500) + 2
    ids_ms[50] += 40
    timeline = make_timeline(ids_ms, [{"nsp_idx_1": int(v)} for v in labels])
    spec = StreamSpec("s", sync_labels=["nsp_idx_1"], sync_timing=SyncTiming(1000.0))
    times = compute_entry_times(spec, timeline, "sync", START_MS)
    np.testing.assert_allclose(times.seconds, 0.102 + (labels - 500) / 1000.0, atol=1e-12)
    assert times.label == "nsp_idx_1" and times.fallback_entries == 0


def test_per_label_rates_are_honoured():
    labels = np.arange(0, 30000 * 2, 3000)  # a 30 kHz sample clock, one entry every 0.1 s
    ids_ms = START_MS + (labels // 30)
    timeline = make_timeline(ids_ms, [{"nsp_idx_2": int(v)} for v in labels])
    spec = StreamSpec("s", sync_labels=["nsp_idx_2"], sync_timing=SyncTiming(1000.0, {"nsp_idx_2": 30000.0}))
    times = compute_entry_times(spec, timeline, "sync", START_MS)
    np.testing.assert_allclose(np.diff(times.seconds), 0.1)


def test_empty_sync_dicts_fall_back_to_redis_time_and_are_counted():
    labels = [{}, {}, {"i": 10}, {"i": 11}, {"i": 12}]
    timeline = make_timeline([START_MS + k for k in (0, 1, 2, 3, 4)], labels)
    spec = StreamSpec("s", sync_labels=["i"])
    times = compute_entry_times(spec, timeline, "sync", START_MS)
    assert times.fallback_entries == 2
    np.testing.assert_allclose(times.seconds, [0.0, 0.001, 0.002, 0.003, 0.004])


def test_clock_reset_keeps_every_entry_and_maps_each_segment():
    labels = [100, 101, 102, 0, 1, 2]  # the NSP restarted between the third and fourth entry
    ids_ms = [START_MS + k for k in (0, 1, 2, 10, 11, 12)]
    timeline = make_timeline(ids_ms, [{"i": v} for v in labels])
    times = compute_entry_times(StreamSpec("s", sync_labels=["i"]), timeline, "sync", START_MS)
    assert times.resets.tolist() == [3]
    np.testing.assert_allclose(times.seconds, [0.0, 0.001, 0.002, 0.010, 0.011, 0.012])


def test_monotonic_clock_is_mapped_to_the_session_axis():
    mono = 5_000_000_000 + np.arange(4) * 1_000_000  # 1 ms apart
    timeline = make_timeline([START_MS + 3 + k for k in range(4)], monotonic_ns=mono)
    times = compute_entry_times(StreamSpec("s"), timeline, "monotonic", START_MS)
    np.testing.assert_allclose(times.seconds, [0.003, 0.004, 0.005, 0.006])


def test_unknown_clock_is_rejected():
    with pytest.raises(ValueError, match="clock must be one of"):
        compute_entry_times(StreamSpec("s"), make_timeline([START_MS]), "nsp", START_MS)


def test_samples_in_one_entry_get_their_own_times():
    np.testing.assert_allclose(
        sample_times(np.array([1.0, 1.001]), 3, 3000.0),
        [1.0, 1.0 + 1 / 3000, 1.0 + 2 / 3000, 1.001, 1.001 + 1 / 3000, 1.001 + 2 / 3000],
    )
    with pytest.raises(ValueError, match="sample rate is needed"):
        sample_times(np.array([1.0]), 30, None)


def test_rates_and_regularity():
    assert entry_rate(np.array([0.0, 0.01, 0.02]), None) == pytest.approx(100.0)
    assert entry_rate(np.array([0.0, 0.01]), 50.0) == 50.0
    assert regular_rate(np.arange(10) / 1000.0) == pytest.approx(1000.0)
    assert regular_rate(np.array([0.0, 0.001, 0.0025])) is None
    assert find_resets(np.array([1, 2, 3, 1, 2, 0])).tolist() == [3, 5]


def test_a_shared_fit_puts_a_late_stream_on_the_reference_axis():
    # reference stream publishes label k at k ms; a task stream publishes the same labels 20 ms later
    labels = np.arange(100, 200)
    reference = make_timeline(START_MS + labels, [{"i": int(v)} for v in labels])
    late = make_timeline(START_MS + labels[::10] + 20, [{}] + [{"i": int(v)} for v in labels[10::10]])
    spec = StreamSpec("s", sync_labels=["i"])
    fit = fit_clock(read_clock(spec, reference, "sync", START_MS))
    times = compute_entry_times(spec, late, "sync", START_MS, fit)
    np.testing.assert_allclose(times.seconds[1:], labels[10::10] / 1000.0, atol=1e-12)
    # the entry without a label: its Redis time minus the stream's 20 ms latency, so the order is kept
    assert times.fallback_entries == 1
    assert times.seconds[0] == pytest.approx(0.100)
    assert np.all(np.diff(times.seconds) > 0)
