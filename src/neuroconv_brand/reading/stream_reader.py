"""Read one stream in batches of entries and decode them into numpy arrays.

Memory is bounded by the batch size, never by the stream length.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from operator import itemgetter

import numpy as np

from ..graph.stream_specs import KeySpec, StreamSpec
from ..interruption import check_interrupted
from ..sources.base import Entry, EntryColumns, StreamSource
from ..sources.entry_ids import EntryId, parse_entry_ids
from .decoding import (
    OnBadEntry,
    SyncLabels,
    bad_payload_error,
    check_entry_encoding,
    decode_monotonic_ns,
    decode_numeric,
    decode_sync,
    decode_text,
    find_bad_payloads,
)
from .gc_pause import paused_gc

#: Target bytes of payload per batch when the batch size is chosen automatically.
DEFAULT_BATCH_BYTES = 8 * 1024 * 1024
_MIN_BATCH, _MAX_BATCH = 16, 10_000


@dataclass(frozen=True)
class EntryBatch:
    """Decoded entries of one stream, in id order.

    Attributes
    ----------
    stream : str
        The stream name.
    ids : np.ndarray
        ``(n, 2)`` uint64 array of ``(ms, seq)``.
    data : dict
        ``key -> (n, samp, chan)`` numeric array (time on axis 1 whatever the payload layout), or a 1-D object
        array of str for text keys.
    sync : SyncLabels or None
        The sync labels, when the stream has a sync field and it was requested.
    monotonic_ns : np.ndarray or None
        uint64 monotonic nanoseconds from the ``ts`` field (0 where an entry has none).
    skipped : int
        Entries dropped from this batch because ``on_bad_entry="skip"``.
    """

    stream: str
    ids: np.ndarray
    data: dict[str, np.ndarray] = field(default_factory=dict)
    sync: SyncLabels | None = None
    monotonic_ns: np.ndarray | None = None
    skipped: int = 0

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def redis_ms(self) -> np.ndarray:
        """Entry-id milliseconds (Unix epoch) as uint64."""
        return self.ids[:, 0]


def choose_batch_size(entry_nbytes: int, target_bytes: int = DEFAULT_BATCH_BYTES) -> int:
    """Entries per batch so that a batch holds about ``target_bytes`` of payload."""
    return int(np.clip(target_bytes // max(entry_nbytes, 1), _MIN_BATCH, _MAX_BATCH))


class StreamReader:
    """Decoded, batched reading of one stream.

    Parameters
    ----------
    source : StreamSource
        Where the stream lives.
    spec : StreamSpec
        The stream's definition (keys, sync and time field names).
    keys : iterable of str, optional
        Keys to decode; default: the exported keys (those with an ``nwb:`` block), or every declared key if
        none is exported.
    batch_size : int, optional
        Entries per read; default chosen from the declared payload size (about 8 MB per batch).
    on_bad_entry : {"raise", "skip"}
        What to do with an entry whose payload length does not match its key's declared shape: raise a
        :class:`~neuroconv_brand.errors.StreamDecodeError` naming it, or drop it (one warning with a count).
    with_sync, with_monotonic : bool
        Whether to decode the sync labels and the monotonic timestamp.

    Examples
    --------
    >>> reader = StreamReader(session.source, graph.streams["sbp"])  # doctest: +SKIP
    >>> for batch in reader.iter_batches():  # doctest: +SKIP
    ...     print(batch.ids[0], batch.data["samples"].shape)
    """

    def __init__(
        self,
        source: StreamSource,
        spec: StreamSpec,
        keys: Iterable[str] | None = None,
        batch_size: int | None = None,
        on_bad_entry: OnBadEntry = "raise",
        with_sync: bool = True,
        with_monotonic: bool = True,
    ):
        if on_bad_entry not in ("raise", "skip"):
            raise ValueError(f"on_bad_entry must be 'raise' or 'skip', not {on_bad_entry!r}")
        self.source = source
        self.spec = spec
        chosen = list(keys) if keys is not None else list(spec.exported_keys or spec.keys)
        unknown = [name for name in chosen if name not in spec.keys]
        if unknown:
            raise KeyError(
                f"stream '{spec.name}' declares no key(s) {unknown}; declared: {sorted(spec.keys)}"
            )
        self.keys: list[KeySpec] = [spec.keys[name] for name in chosen]
        numeric_bytes = sum(k.entry_nbytes for k in self.keys if not k.is_text)
        self.batch_size = batch_size or choose_batch_size(numeric_bytes + 64)
        self.on_bad_entry: OnBadEntry = on_bad_entry
        self.with_sync = with_sync
        self.with_monotonic = with_monotonic
        self.skipped_total = 0
        # What a columnar source needs to decode: these fields, the numeric ones as fixed-width rows if it can.
        self._binary_fields = frozenset(key.name.encode() for key in self.keys if not key.is_text)
        self._fields = frozenset(key.name.encode() for key in self.keys) | {
            name.encode()
            for name, wanted in ((spec.sync_key, with_sync), (spec.time_key, with_monotonic))
            if wanted
        }

    def iter_batches(self, start: EntryId | None = None, end: EntryId | None = None) -> Iterator[EntryBatch]:
        """Decoded batches covering ``[start, end]`` (whole stream by default)."""
        self.skipped_total = 0
        batches = self.source.iter_entry_batches(
            self.spec.name, start, end, self.batch_size, self._fields, self._binary_fields
        )
        while True:
            check_interrupted()
            with paused_gc():
                entries = next(batches, None)
                if entries is None:
                    break
                batch = self.decode(entries) if isinstance(entries, list) else self.decode_columns(entries)
                del entries
            self.skipped_total += batch.skipped
            if len(batch):
                yield batch
        if self.skipped_total:
            warnings.warn(
                f"stream '{self.spec.name}': skipped {self.skipped_total} entries whose payload did not match "
                "the declared shape (on_bad_entry='skip').",
                stacklevel=2,
            )

    def read(self, start: EntryId | None = None, end: EntryId | None = None) -> EntryBatch:
        """All entries in ``[start, end]`` as one batch (for small streams: parameters, trials, task state)."""
        return concatenate_batches(self.spec.name, list(self.iter_batches(start, end)))

    def decode(self, entries: list[Entry]) -> EntryBatch:
        """Decode raw entries (as returned by a source) into an :class:`EntryBatch`."""
        if not entries:
            return EntryBatch(self.spec.name, np.zeros((0, 2), dtype=np.uint64))
        check_entry_encoding(self.spec.name, entries[0][0], entries[0][1])
        field_maps = list(map(itemgetter(1), entries))
        return self._decode_fields(
            list(map(itemgetter(0), entries)), None, lambda name: field_column(field_maps, name)
        )

    def decode_columns(self, entries: EntryColumns) -> EntryBatch:
        """Decode entries given by column (as the direct ``.rdb`` reader yields them) into an :class:`EntryBatch`."""
        if not len(entries):
            return EntryBatch(self.spec.name, np.zeros((0, 2), dtype=np.uint64))
        names = entries.id_names()
        check_entry_encoding(self.spec.name, names[0], dict.fromkeys(entries.field_names, b""))
        missing = [None] * len(entries)
        return self._decode_fields(names, entries.ids, lambda name: entries.columns.get(name, missing))

    def _decode_fields(
        self,
        raw_ids: Sequence[bytes],
        ids: np.ndarray | None,
        column_of: Callable[[bytes], list[bytes | None]],
    ) -> EntryBatch:
        """Decode the batch whose ids are ``raw_ids`` (parsed: ``ids``) and whose fields ``column_of`` gives."""
        stream = self.spec.name
        count = len(raw_ids)
        columns = {key.name: column_of(key.name.encode()) for key in self.keys}
        sync_column = column_of(self.spec.sync_key.encode()) if self.with_sync else None
        time_column = column_of(self.spec.time_key.encode()) if self.with_monotonic else None

        keep = np.ones(count, dtype=bool)
        for key in self.keys:
            if key.is_text:
                bad = np.fromiter((p is None for p in columns[key.name]), dtype=bool, count=count)
            else:
                bad = find_bad_payloads(columns[key.name], key)
            if bad.any():
                if self.on_bad_entry == "raise":
                    index = int(np.argmax(bad))
                    raise bad_payload_error(stream, key, raw_ids[index], columns[key.name][index])
                keep &= ~bad
        skipped = int((~keep).sum())
        if skipped:
            raw_ids = [r for r, k in zip(raw_ids, keep) if k]
            ids = None if ids is None else ids[keep]
            columns = {name: [p for p, k in zip(values, keep) if k] for name, values in columns.items()}
            if sync_column is not None:
                sync_column = [p for p, k in zip(sync_column, keep) if k]
            if time_column is not None:
                time_column = [p for p, k in zip(time_column, keep) if k]

        data = {}
        for key in self.keys:
            if key.is_text:
                data[key.name] = decode_text(columns[key.name], stream, key.name, raw_ids)
            else:
                data[key.name] = decode_numeric(columns[key.name], key)
        sync = monotonic = None
        if sync_column is not None:
            sync = decode_sync(sync_column, stream, raw_ids)
        if time_column is not None:
            monotonic = decode_monotonic_ns(time_column, stream, raw_ids)
        ids = parse_entry_ids(raw_ids) if ids is None else ids
        return EntryBatch(stream, ids, data, sync, monotonic, skipped)


def field_column(field_maps: list[dict[bytes, bytes]], name: bytes) -> list[bytes | None]:
    """One field of every entry (None where an entry lacks it)."""
    try:
        return list(map(itemgetter(name), field_maps))
    except KeyError:
        return [f.get(name) for f in field_maps]


def concatenate_batches(stream: str, batches: list[EntryBatch]) -> EntryBatch:
    """Join batches of one stream into one (sync labels unioned; absent where a batch lacked them)."""
    if not batches:
        return EntryBatch(stream, np.zeros((0, 2), dtype=np.uint64))
    if len(batches) == 1:
        return batches[0]
    data = {name: np.concatenate([b.data[name] for b in batches]) for name in batches[0].data}
    sync = None
    if batches[0].sync is not None:
        labels = dict.fromkeys(label for b in batches for label in b.sync.values)
        values, present = {}, {}
        for label in labels:
            values[label] = np.concatenate(
                [b.sync.values.get(label, np.zeros(len(b), np.int64)) for b in batches]
            )
            present[label] = np.concatenate(
                [b.sync.present.get(label, np.zeros(len(b), bool)) for b in batches]
            )
        sync = SyncLabels(values, present)
    monotonic = None
    if batches[0].monotonic_ns is not None:
        monotonic = np.concatenate([b.monotonic_ns for b in batches])
    return EntryBatch(
        stream,
        np.concatenate([b.ids for b in batches]),
        data,
        sync,
        monotonic,
        sum(b.skipped for b in batches),
    )
