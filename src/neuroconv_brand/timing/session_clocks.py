"""What all streams of one session share: one read of each stream (see :mod:`.stream_spool`) and the clock fits.

Each clock is fitted once per session on the largest stream that carries it (the blocking label's source
stream for a sync label, the largest stream with ``ts`` for the monotonic clock), so that a label value or a
monotonic stamp maps to the same session time in every stream: a TrialInfo entry written 30 µs after its trial
start stays inside that trial whatever the streams' latencies. The fits are kept in the session's context.
"""

from __future__ import annotations

from ..graph.acquisition import is_acquisition_stream
from ..graph.stream_specs import StreamSpec
from ..graph.supergraph import Graph
from ..reading.decoding import OnBadEntry
from ..reading.stream_reader import EntryBatch
from ..reading.stream_spool import StreamPass, session_spool
from ..sources.session import BrandSession
from .clocks import Clock, ClockFit, EntryTimes, blocking_label, compute_entry_times, fit_clock, read_clock


def spools_by_default(graph: Graph, spec: StreamSpec) -> bool:
    """Whether a stream's pass spools its data by default: streams the converter writes (exported, not raw)."""
    return spec.enabled and not is_acquisition_stream(graph, spec)


def stream_pass(
    session: BrandSession,
    graph: Graph,
    spec: StreamSpec,
    on_bad_entry: OnBadEntry = "raise",
    spool: bool | None = None,
) -> StreamPass:
    """The one read of ``spec``'s stream in this session: its timeline and its spooled numeric keys.

    ``spool=None`` spools the data of streams the converter writes by default (exported, not raw broadband), so
    that the pass made for the clock fit also serves the data; ``True`` always spools, ``False`` never does.
    """
    if spool is None:
        spool = spools_by_default(graph, spec)
    return session_spool(session).stream_pass(spec, on_bad_entry, spool)


def stream_timeline(
    session: BrandSession, graph: Graph, spec: StreamSpec, on_bad_entry: OnBadEntry = "raise"
) -> EntryBatch:
    """Ids, sync labels and monotonic stamps of every entry of ``spec``'s stream (read once per session)."""
    return stream_pass(session, graph, spec, on_bad_entry).timeline


def _streams_by_length(session: BrandSession, graph: Graph) -> list[StreamSpec]:
    present = set(session.source.stream_names())
    specs = [spec for name, spec in graph.streams.items() if name in present and spec.type_nwb]
    lengths = {spec.name: session.source.stream_stats(spec.name).length for spec in specs}
    return sorted(specs, key=lambda spec: (-lengths[spec.name], spec.name))


def shared_clock_fit(
    session: BrandSession,
    graph: Graph,
    start_ms: int,
    clock: Clock,
    label: str | None,
    on_bad_entry: OnBadEntry = "raise",
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
    on_bad_entry : {"raise", "skip"}
        How the streams read for the fit treat entries with bad payloads.
    """
    fits = session.context.clock_fits
    key = (id(graph), start_ms, clock, label, on_bad_entry)
    if key not in fits:
        fits[key] = None
        for spec in _streams_by_length(session, graph):
            if clock == "sync" and label not in spec.sync_labels[:1]:
                continue
            timeline = stream_timeline(session, graph, spec, on_bad_entry)
            if clock == "sync" and blocking_label(spec, timeline) != label:
                continue
            fit = fit_clock(read_clock(spec, timeline, clock, start_ms))
            if fit is not None:
                fits[key] = fit
                break
    return fits[key]


def session_entry_times(
    session: BrandSession,
    graph: Graph,
    spec: StreamSpec,
    timeline: EntryBatch,
    clock: Clock,
    start_ms: int,
    on_bad_entry: OnBadEntry = "raise",
) -> EntryTimes:
    """Entry times of ``timeline`` on ``clock``, through the session's shared fit of that clock.

    What every interface and extractor uses, so that one clock value maps to one session time in every stream.
    """
    label = blocking_label(spec, timeline) if clock == "sync" else None
    fit = shared_clock_fit(session, graph, start_ms, clock, label, on_bad_entry) if clock != "redis" else None
    return compute_entry_times(spec, timeline, clock, start_ms, fit)
