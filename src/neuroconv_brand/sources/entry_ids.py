"""Redis stream entry ids (``<unix ms>-<sequence>``) as comparable values."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

_MAX_SEQ = 2**64 - 1


class EntryId(NamedTuple):
    """A Redis stream entry id: milliseconds since the Unix epoch and a sequence number.

    Ordering is that of Redis (by ``ms``, then ``seq``). ``str(EntryId(5, 1))`` is ``"5-1"``.
    """

    ms: int
    seq: int

    @classmethod
    def parse(cls, value: str | bytes | EntryId) -> EntryId:
        """Parse ``"1700000000000-3"`` (str or bytes); a bare ``"1700000000000"`` means sequence 0."""
        if isinstance(value, EntryId):
            return value
        text = value.decode() if isinstance(value, bytes) else str(value)
        ms, _, seq = text.partition("-")
        try:
            return cls(int(ms), int(seq) if seq else 0)
        except ValueError:
            raise ValueError(f"'{text}' is not a Redis stream entry id (expected '<ms>-<seq>')") from None

    @classmethod
    def last_of(cls, ms: int) -> EntryId:
        """The largest id in millisecond ``ms``: ``last_of(ms - 1)`` ends a range just before ``ms``."""
        return cls(ms, _MAX_SEQ)

    def successor(self) -> EntryId:
        """The smallest id strictly greater than this one (works on Redis < 6.2, which lacks ``(`` ranges)."""
        if self.seq < _MAX_SEQ:
            return EntryId(self.ms, self.seq + 1)
        return EntryId(self.ms + 1, 0)

    def predecessor(self) -> EntryId:
        """The largest id strictly smaller than this one (``end`` of a range that stops just before it)."""
        if self.seq > 0:
            return EntryId(self.ms, self.seq - 1)
        return EntryId.last_of(self.ms - 1)

    def __str__(self) -> str:
        return f"{self.ms}-{self.seq}"


def parse_entry_ids(raw_ids: list[bytes]) -> np.ndarray:
    """Parse a list of raw ids (``b"ms-seq"``) into an ``(n, 2)`` uint64 array of ``(ms, seq)``.

    One vectorised split over the joined bytes instead of a Python loop per entry.
    """
    if not raw_ids:
        return np.zeros((0, 2), dtype=np.uint64)
    text = b" ".join(raw_ids).replace(b"-", b" ").decode("ascii")
    return np.fromstring(text, dtype=np.uint64, sep=" ").reshape(-1, 2)
