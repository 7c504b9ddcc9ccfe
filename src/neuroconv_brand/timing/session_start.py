"""The session's ``session_start_time``: one start for every stream, interface and extractor of a session."""

from __future__ import annotations

from ..errors import GraphError
from ..graph.acquisition import is_acquisition_stream
from ..graph.supergraph import Graph
from ..sources.session import BrandSession

#: Streams written by BRAND's supervisor and derivatives, never data.
INFRASTRUCTURE_STREAMS = frozenset(
    {
        "supergraph_stream",
        "supervisor_ipstream",
        "graph_status",
        "supervisor_status",
        "booter",
        "booter_status",
        "last_saved_rdb",
        "derivatives_status",
        "console_logging",
    }
)


def session_start_ms(session: BrandSession, graph: Graph) -> int:
    """``session_start_time`` in Unix ms: the earliest first entry among the graph's exported and raw streams.

    Without exported streams, the earliest first entry of any data stream; without data, the graph load
    (first ``supergraph_stream`` entry). Kept in the session's context.
    """
    cache = session.context.start_ms
    key = id(graph)
    if key not in cache:
        present = set(session.source.stream_names())
        # Raw acquisition streams count too (they are off by default but may be converted), so that the start
        # does not depend on which streams a user picks.
        candidates = [
            name
            for name, spec in graph.streams.items()
            if name in present and (spec.enabled or is_acquisition_stream(graph, spec))
        ]
        if not candidates:
            candidates = [name for name in present if name not in INFRASTRUCTURE_STREAMS]
        if not candidates:
            candidates = [name for name in ("supergraph_stream",) if name in present]
        firsts = [session.source.stream_stats(name).first_id for name in candidates]
        firsts = [first.ms for first in firsts if first is not None]
        if not firsts:
            raise GraphError(
                f"{session.location.description}: no stream has entries, so there is nothing to convert."
            )
        cache[key] = min(firsts)
    return cache[key]
