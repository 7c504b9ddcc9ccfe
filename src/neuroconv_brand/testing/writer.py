"""Writes :class:`StreamTruth` objects into Redis: NSP streams in tick windows, the rest in chunks."""

from __future__ import annotations

import numpy as np
import redis

from .resp import FixedField, PipelinedWriter, VariableField, encode_xadd, encode_xadd_batch
from .truth import FieldLayout, StreamTruth

#: Upper bound of encoded bytes per tick window (memory stays bounded whatever the session length).
WINDOW_BYTES = 16 * 2**20
MAX_WINDOW_TICKS = 5000
CHUNK_ENTRIES = 5000


def to_buffer(values: np.ndarray, layout: FieldLayout) -> np.ndarray:
    """Logical ``(n, samp, chan)`` values as a ``(n, entry_nbytes)`` uint8 matrix in the field's layout."""
    array = np.asarray(values, dtype=np.dtype(layout.dtype).newbyteorder("<"))
    if array.ndim != 3 or array.shape[1:] != (layout.samp, layout.chan):
        raise ValueError(
            f"field {layout.name}: values of shape {array.shape}, expected (n, {layout.samp}, {layout.chan})"
        )
    if layout.layout == "channel-major":
        array = array.transpose(0, 2, 1)
    array = np.ascontiguousarray(array)
    return array.view(np.uint8).reshape(len(array), -1)


def ascii_seconds(ns: np.ndarray) -> list[bytes]:
    """Nanoseconds as ASCII seconds with 9 decimals (``b"12590.134766400"``)."""
    return [b"%d.%09d" % divmod(value, 1_000_000_000) for value in np.asarray(ns, dtype=np.uint64).tolist()]


def encode_range(stream: StreamTruth, start: int, stop: int) -> list[bytes]:
    """The XADD commands of entries ``start:stop`` of ``stream``."""
    name = stream.name.encode()
    ids = stream.ids[start:stop]
    fields: list[FixedField | VariableField] = []
    irregular: dict[bytes, list[bytes | None]] = {}
    for field_name, layout in stream.raw_fields.items():
        key = field_name.encode()
        if field_name == "sync":
            fields.append(VariableField(key, stream.sync_texts(start, stop)))
        elif field_name == "ts":
            ts = stream.ts_ns[start:stop]
            if layout.encoding == "ascii":
                fields.append(VariableField(key, ascii_seconds(ts)))
            else:
                fields.append(FixedField(key, ts.astype("<u8").view(np.uint8).reshape(-1, 8)))
        elif layout.encoding == "buffer":
            fields.append(FixedField(key, to_buffer(stream.source.field(field_name, start, stop), layout)))
        else:
            texts = [
                None if value is None else str(value).encode()
                for value in stream.source.field(field_name, start, stop)
            ]
            if any(text is None for text in texts):
                irregular[key] = texts
            else:
                fields.append(VariableField(key, texts))
    if not irregular:
        return encode_xadd_batch(name, ids, fields)
    return _encode_irregular(name, ids, fields, irregular)


def _encode_irregular(
    name: bytes, ids: np.ndarray, fields: list[FixedField | VariableField], irregular: dict[bytes, list]
) -> list[bytes]:
    """Entries whose set of fields varies (supervisor commands): one by one."""
    commands = []
    for row, (ms, seq) in enumerate(ids.tolist()):
        values: dict[bytes, bytes] = {}
        for item in fields:
            values[item.name] = item.data[row].tobytes() if isinstance(item, FixedField) else item.values[row]
        for key, texts in irregular.items():
            if texts[row] is not None:
                values[key] = texts[row]
        commands.append(encode_xadd(name, b"%d-%d" % (ms, seq), values))
    return commands


def write_streams(client: redis.Redis, streams: dict[str, StreamTruth]) -> int:
    """XADD every entry of ``streams``; returns the number of entries written."""
    tick_streams = [s for s in streams.values() if s.entry_ticks is not None and s.n_entries]
    other_streams = [s for s in streams.values() if s.entry_ticks is None and s.n_entries]
    with PipelinedWriter(client) as writer:
        for stream in other_streams:
            for start in range(0, stream.n_entries, CHUNK_ENTRIES):
                stop = min(stream.n_entries, start + CHUNK_ENTRIES)
                writer.send(stream.name, stream.ids[start:stop], encode_range(stream, start, stop))
        if tick_streams:
            bytes_per_tick = sum(
                _entry_bytes(s) * s.n_entries / max(1, int(s.entry_ticks[-1]) + 1) for s in tick_streams
            )
            window = int(max(100, min(MAX_WINDOW_TICKS, WINDOW_BYTES // max(1.0, bytes_per_tick))))
            last_tick = max(int(s.entry_ticks[-1]) for s in tick_streams)
            for first in range(0, last_tick + 1, window):
                for stream in tick_streams:
                    start, stop = np.searchsorted(stream.entry_ticks, [first, first + window]).tolist()
                    if stop > start:
                        writer.send(stream.name, stream.ids[start:stop], encode_range(stream, start, stop))
        return writer.commands_sent


def _entry_bytes(stream: StreamTruth) -> int:
    return sum(layout.entry_nbytes or 32 for layout in stream.raw_fields.values()) + 64
