"""Vectorised decoding of a batch of stream entries into numpy arrays.

Pure functions over lists of payloads (bytes): no Redis here. Each numeric key is decoded with one
``np.frombuffer`` over the joined payloads; sync labels with one ``json.loads`` over the joined JSON texts.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter
from typing import Literal

import numpy as np

from ..errors import StreamDecodeError, UnsupportedEncodingError
from ..graph.stream_specs import KeySpec
from ..sources.base import Column, FixedWidthColumn

OnBadEntry = Literal["raise", "skip"]

_ASCII_NUMBER = re.compile(rb"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$")


def describe_entry(stream: str, raw_id: bytes | str) -> str:
    """``"stream 'x', entry 1700000000000-0"`` for messages."""
    return f"stream '{stream}', entry {raw_id.decode() if isinstance(raw_id, bytes) else raw_id}"


def check_entry_encoding(stream: str, raw_id: bytes, fields: dict[bytes, bytes]) -> None:
    """Raise :class:`UnsupportedEncodingError` for the 2025 msgpack form (``_hdr`` + ``data`` fields)."""
    if b"_hdr" in fields and b"data" in fields:
        raise UnsupportedEncodingError(
            f"{describe_entry(stream, raw_id)} uses the 2025 msgpack encoding (fields '_hdr' and 'data', "
            "written by the University-of-Michigan BRAND fork). This version of neuroconv-brand does not read "
            "it yet; please open an issue with a sample file."
        )


def payload_lengths(payloads: Column) -> np.ndarray:
    """Byte length of each payload (-1 where the field is missing), without a Python-level loop body."""
    if isinstance(payloads, FixedWidthColumn):
        return np.full(len(payloads), payloads.width, dtype=np.int64)
    try:
        return np.fromiter(map(len, payloads), dtype=np.int64, count=len(payloads))
    except TypeError:  # some entries lack the field
        return np.fromiter(
            (-1 if p is None else len(p) for p in payloads), dtype=np.int64, count=len(payloads)
        )


def find_bad_payloads(payloads: Column, key: KeySpec) -> np.ndarray:
    """Boolean mask of entries whose payload is missing or has the wrong byte length for ``key``."""
    return payload_lengths(payloads) != key.entry_nbytes


def bad_payload_error(stream: str, key: KeySpec, raw_id: bytes, payload: bytes | None) -> StreamDecodeError:
    """The error for one entry whose payload does not fit ``key``'s declared shape."""
    where = f"{describe_entry(stream, raw_id)}, key '{key.name}'"
    if payload is None:
        return StreamDecodeError(
            f"{where}: the field is missing. Pass on_bad_entry='skip' to drop such entries with a warning."
        )
    return StreamDecodeError(
        f"{where}: payload is {len(payload)} bytes but chan_per_stream x samp_per_stream x itemsize = "
        f"{key.chan} x {key.samp} x {key.numpy_dtype.itemsize} = {key.entry_nbytes} bytes ({key.dtype}). "
        "Fix the key's definition in the node YAML (or graph), or pass on_bad_entry='skip' to drop such "
        "entries with a warning."
    )


def decode_numeric(payloads: Column, key: KeySpec) -> np.ndarray:
    """Decode payloads that all have the right length into an ``(n, samp, chan)`` array.

    Channel-major payloads (``[chan, samp]`` in C order) are transposed so that axis 1 is always time.
    Fixed-width rows give a view of them (copied once, by whoever stores the array).
    """
    dtype = key.numpy_dtype
    if isinstance(payloads, FixedWidthColumn):
        flat = payloads.rows.view(dtype)
    else:
        flat = np.frombuffer(b"".join(payloads), dtype=dtype)
    if key.layout == "channel-major":
        array = flat.reshape(len(payloads), key.chan, key.samp).transpose(0, 2, 1)
    else:
        array = flat.reshape(len(payloads), key.samp, key.chan)
    return array.astype(dtype.newbyteorder("="), copy=False)


def decode_text(payloads: list[bytes], stream: str, key: str, raw_ids: list[bytes]) -> np.ndarray:
    """Decode UTF-8 payloads into a 1-D object array of str."""
    try:
        return np.array([p.decode("utf-8") for p in payloads], dtype=object)
    except UnicodeDecodeError:
        for raw_id, payload in zip(raw_ids, payloads):
            try:
                payload.decode("utf-8")
            except UnicodeDecodeError as error:
                raise StreamDecodeError(
                    f"{describe_entry(stream, raw_id)}, key '{key}': not UTF-8 text ({error}); the node YAML "
                    "declares sample_type: str. Fix the sample_type if the field is binary."
                ) from None
        raise


@dataclass(frozen=True)
class SyncLabels:
    """The sync labels of a batch: one integer array per label and where it was present.

    Attributes
    ----------
    values : dict
        ``label -> int64 array`` (0 where absent).
    present : dict
        ``label -> bool array``.
    """

    values: dict[str, np.ndarray]
    present: dict[str, np.ndarray]

    def masked(self, label: str) -> np.ma.MaskedArray:
        """The label as a masked array (masked where the entry did not carry it)."""
        return np.ma.MaskedArray(self.values[label], mask=~self.present[label])


def decode_sync(payloads: list[bytes | None], stream: str, raw_ids: list[bytes]) -> SyncLabels:
    """Parse the JSON sync dicts of a batch in one ``json.loads``.

    Missing fields and empty dicts (``{}``, written by nodes before their first input) leave the labels
    absent for that entry instead of failing.
    """
    texts = [p if p else b"{}" for p in payloads]
    try:
        dicts = json.loads(b"[" + b",".join(texts) + b"]")
        if not set(map(type, dicts)) <= {dict}:
            raise ValueError("not a JSON object")
    except ValueError:
        raise _first_bad_sync(texts, stream, raw_ids) from None
    labels = list(
        dict.fromkeys(chain.from_iterable(dicts))
    )  # order of first appearance: blocking label first
    values, present = {}, {}
    for label in labels:
        try:  # fast path: every entry carries the label
            values[label] = np.fromiter(map(itemgetter(label), dicts), dtype=np.int64, count=len(dicts))
            present[label] = np.ones(len(dicts), dtype=bool)
            continue
        except (KeyError, TypeError, ValueError, OverflowError):
            pass
        column = [d.get(label) for d in dicts]
        present[label] = np.fromiter((v is not None for v in column), dtype=bool, count=len(column))
        try:
            values[label] = np.array([0 if v is None else v for v in column], dtype=np.int64)
        except (TypeError, ValueError, OverflowError):
            bad = next(i for i, v in enumerate(column) if v is not None and not isinstance(v, int))
            raise StreamDecodeError(
                f"{describe_entry(stream, raw_ids[bad])}: sync label '{label}' is {column[bad]!r}, expected an "
                "integer counter."
            ) from None
    return SyncLabels(values, present)


def _first_bad_sync(texts: list[bytes], stream: str, raw_ids: list[bytes]) -> StreamDecodeError:
    for raw_id, text in zip(raw_ids, texts):
        try:
            if isinstance(json.loads(text), dict):
                continue
        except ValueError:
            pass
        return StreamDecodeError(
            f"{describe_entry(stream, raw_id)}: the sync field is not a JSON object ({text[:60]!r})."
        )
    return StreamDecodeError(f"stream '{stream}': could not parse the sync fields of a batch")


def decode_monotonic_ns(payloads: list[bytes | None], stream: str, raw_ids: list[bytes]) -> np.ndarray:
    """Decode the ``ts`` field into uint64 nanoseconds; 0 where missing.

    Since 2022-08 BRAND writes ``np.uint64(time.monotonic_ns()).tobytes()``; earlier nodes wrote
    ``time.monotonic()`` seconds as ASCII text. Both are accepted, per entry.
    """
    lengths = payload_lengths(payloads)
    if len(payloads) and (lengths == 8).all():
        joined = b"".join(payloads)
        if not _ASCII_NUMBER.match(payloads[0]):
            return np.frombuffer(joined, dtype="<u8").astype(np.uint64)
    result = np.zeros(len(payloads), dtype=np.uint64)
    for index, payload in enumerate(payloads):
        if payload is None:
            continue
        if len(payload) == 8 and not _ASCII_NUMBER.match(payload):
            result[index] = np.frombuffer(payload, dtype="<u8")[0]
        elif _ASCII_NUMBER.match(payload):
            result[index] = round(float(payload) * 1e9)
        else:
            raise StreamDecodeError(
                f"{describe_entry(stream, raw_ids[index])}: the monotonic timestamp field is {len(payload)} "
                "bytes; expected 8 bytes (uint64 ns) or ASCII seconds."
            )
    return result
