"""Backends that read Redis streams: a live Redis server, or a ``.rdb`` file parsed directly."""

from .base import Entry, StreamSource, StreamStats

__all__ = ["Entry", "StreamSource", "StreamStats"]
