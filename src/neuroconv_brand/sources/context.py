"""What one open session has worked out, shared by everything that reads it, and released when it closes."""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..graph.supergraph import Graph


class Closable(Protocol):
    """Something the context releases when the session closes (the session's spool)."""

    def close(self) -> None:
        """Release the resource."""


@dataclass
class SessionContext:
    """The state of one open session: built once, shared by every interface and extractor that opened it.

    It replaces caches kept beside the session: each value is computed by the layer that knows how (the graph
    by :meth:`BrandSession.graph`, the start time by :mod:`neuroconv_brand.timing.session_start`, the clock
    fits by :mod:`neuroconv_brand.timing.session_clocks`, the spool by :mod:`neuroconv_brand.reading.stream_spool`)
    and kept here, so that it lives exactly as long as the session.

    Attributes
    ----------
    graphs : dict
        The parsed graphs, by ``(brand_base_dir, options)``.
    start_ms : dict
        ``session_start_time`` in Unix ms, by ``id(graph)`` (the graphs live as long as the context).
    clock_fits : dict
        The session-wide fit of each clock, by ``(id(graph), start_ms, clock, label, on_bad_entry)``.
    spool : Closable or None
        The session's stream spool, closed with the context.
    raw_indexes : weakref.WeakValueDictionary
        The index of each raw stream that an extractor still uses (:mod:`neuroconv_brand.extractors.recording_index`),
        by what was read and how: another extractor of the same stream with the same settings reuses it meanwhile.
        Weak, so an index (and its spool files) lives as long as the extractors that read it, not as the session.
    while_reading : list of callable
        Work this process may do while forked workers read for it (each called once, by the next
        :func:`~neuroconv_brand.reading.forked_workers.forked_map`); the ``convert`` command imports NeuroConv
        there while a raw stream is read.
    """

    graphs: dict[tuple, Graph] = field(default_factory=dict)
    start_ms: dict[int, int] = field(default_factory=dict)
    clock_fits: dict[tuple, Any] = field(default_factory=dict)
    spool: Closable | None = None
    raw_indexes: weakref.WeakValueDictionary = field(default_factory=weakref.WeakValueDictionary)
    while_reading: list[Callable[[], object]] = field(default_factory=list)

    def close(self) -> None:
        """Close the spool and forget everything (called when the session's last user closes it)."""
        spool, self.spool = self.spool, None
        self.graphs.clear()
        self.start_ms.clear()
        self.clock_fits.clear()
        self.raw_indexes.clear()
        self.while_reading.clear()
        if spool is not None:
            spool.close()
