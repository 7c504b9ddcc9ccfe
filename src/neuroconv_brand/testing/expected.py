"""Expected session times from a synthetic session's raw truth, for tests.

The documented clock rule, written independently of the converter's code so tests can compare the two.

The rule (docs/time.md): a sync label's value / rate, plus one offset per segment between label resets, fitted
once per session as the median of ``redis_time - label_time`` over the largest stream whose blocking label it is
(ties broken by stream name); each stream's segment takes the offset of the reference segment that holds its
median Redis time. Entries without the label take their Redis time minus the stream's median latency
(``redis_time - session_time`` over its labelled entries).
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np

from .truth import StreamTruth, SyntheticSession


def redis_times(stream: StreamTruth, start_ms: int) -> np.ndarray:
    """Entry-id times of ``stream`` in seconds since ``start_ms``."""
    return (stream.ids[:, 0].astype(np.int64) - start_ms) / 1000.0


def _segments(values: np.ndarray) -> list[slice]:
    bounds = [0, *(np.flatnonzero(np.diff(values) < 0) + 1).tolist(), len(values)]
    return [slice(first, stop) for first, stop in pairwise(bounds)]


def reference_stream(truth: SyntheticSession, label: str) -> StreamTruth:
    """The largest data stream whose blocking label is ``label`` (ties: the first name in sort order)."""
    candidates = [
        s for s in truth.streams.values() if s.type_nwb and s.graph_sync_labels[:1] == (label,) and len(s.ids)
    ]
    return min(candidates, key=lambda s: (-len(s.ids), s.name))


def expected_sync_times(
    truth: SyntheticSession, stream_name: str, start_ms: int, label: str = "nsp_idx_1", rate: float = 1000.0
) -> tuple[np.ndarray, np.ndarray]:
    """Expected entry times of ``stream_name`` on the sync clock, and its Redis times (both seconds)."""
    reference = reference_stream(truth, label)
    ref_present = np.flatnonzero(reference.sync_present[label])
    ref_label_s = reference.sync[label][ref_present] / rate
    ref_redis_s = redis_times(reference, start_ms)[ref_present]
    pieces = _segments(ref_label_s)
    offsets = np.array([np.median(ref_redis_s[p] - ref_label_s[p]) for p in pieces])
    starts = np.array([ref_redis_s[p.start] for p in pieces[1:]])

    stream = truth.streams[stream_name]
    redis_s = redis_times(stream, start_ms)
    times = redis_s.copy()
    present = np.flatnonzero(stream.sync_present[label])
    label_s = stream.sync[label][present] / rate
    for piece in _segments(label_s):
        segment = present[piece]
        index = min(int(np.searchsorted(starts, np.median(redis_s[segment]), side="right")), len(offsets) - 1)
        times[segment] = label_s[piece] + offsets[index]
    missing = ~stream.sync_present[label]
    if missing.any() and len(present):
        times[missing] = redis_s[missing] - np.median(redis_s[present] - times[present])
    return times, redis_s
