"""What all streams of one session share: their timelines (read once) and the clock fits.

Each clock is fitted once per session on the largest stream that carries it (the blocking label's source
stream for a sync label, the largest stream with ``ts`` for the monotonic clock), so that a label value or a
monotonic stamp maps to the same session time in every stream: a TrialInfo entry written 30 µs after its trial
start stays inside that trial whatever the streams' latencies. Results are cached per open session.
"""

from __future__ import annotations

import weakref

from .clocks import Clock, ClockFit, blocking_label, fit_clock, read_clock
from .graph import Graph
from .session import BrandSession
from .specs import StreamSpec
from .streams import EntryBatch, StreamReader

_TIMELINES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_FITS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def stream_timeline(session: BrandSession, spec: StreamSpec) -> EntryBatch:
    """Ids, sync labels and monotonic stamps of every entry of ``spec``'s stream (read once per session)."""
    timelines = _TIMELINES.setdefault(session, {})
    if spec.name not in timelines:
        batch = StreamReader(session.source, spec, keys=[]).read()
        timelines[spec.name] = EntryBatch(batch.stream, batch.ids, {}, batch.sync, batch.monotonic_ns)
    return timelines[spec.name]


def _streams_by_length(session: BrandSession, graph: Graph) -> list[StreamSpec]:
    present = set(session.source.stream_names())
    specs = [spec for name, spec in graph.streams.items() if name in present and spec.type_nwb]
    lengths = {spec.name: session.source.stream_stats(spec.name).length for spec in specs}
    return sorted(specs, key=lambda spec: (-lengths[spec.name], spec.name))


def shared_clock_fit(
    session: BrandSession, graph: Graph, start_ms: int, clock: Clock, label: str | None
) -> ClockFit | None:
    """The session's fit of ``clock`` (and sync ``label``), or None when no stream carries it.

    Parameters
    ----------
    session, graph : BrandSession, Graph
        The open session and its graph.
    start_ms : int
        ``session_start_time`` in Unix ms (fits are relative to it).
    clock : {"sync", "monotonic"}
        The clock to fit.
    label : str or None
        The sync label (``clock == "sync"``).
    """
    fits = _FITS.setdefault(session, {})
    key = (id(graph), start_ms, clock, label)
    if key not in fits:
        fits[key] = None
        for spec in _streams_by_length(session, graph):
            if clock == "sync" and label not in spec.sync_labels[:1]:
                continue
            timeline = stream_timeline(session, spec)
            if clock == "sync" and blocking_label(spec, timeline) != label:
                continue
            fit = fit_clock(read_clock(spec, timeline, clock, start_ms))
            if fit is not None:
                fits[key] = fit
                break
    return fits[key]
