"""Bulk RESP encoding: byte-identical to redis-py's own command packing."""

from __future__ import annotations

import numpy as np
from redis.connection import Connection

from neuroconv_brand.testing.resp import (
    FixedField,
    VariableField,
    decimal_digits,
    encode_xadd,
    encode_xadd_batch,
)
from neuroconv_brand.testing.truth import FieldLayout
from neuroconv_brand.testing.writer import ascii_seconds, to_buffer


def _packed(*args) -> bytes:
    return b"".join(Connection().pack_command("XADD", *args))


def test_decimal_digits():
    values = np.array([0, 9, 10, 99, 100, 1_700_000_000_000, 2**64 - 1], dtype=np.uint64)
    assert decimal_digits(values).tolist() == [len(str(int(v))) for v in values]


def test_batch_matches_redis_py_packing():
    ids = np.array([[1_700_000_000_000, 0], [1_700_000_000_000, 1], [1_700_000_000_007, 12]], dtype=np.uint64)
    crossings = np.arange(3 * 4, dtype=np.int16).reshape(3, 4)
    ts = np.array([5, 6, 2**63], dtype="<u8")
    syncs = [b'{"nsp_idx_1": 1}', b'{"nsp_idx_1": 22}', b"{}"]
    commands = encode_xadd_batch(
        b"thresh_cross",
        ids,
        [
            FixedField(b"crossings", crossings.view(np.uint8).reshape(3, -1)),
            VariableField(b"sync", syncs),
            FixedField(b"ts", ts.view(np.uint8).reshape(3, 8)),
        ],
    )
    for row in range(3):
        entry_id = f"{ids[row, 0]}-{ids[row, 1]}"
        expected = _packed(
            "thresh_cross",
            entry_id,
            "sync",
            syncs[row],
            "crossings",
            crossings[row].tobytes(),
            "ts",
            ts[row].tobytes(),
        )
        assert commands[row] == expected


def test_percent_signs_in_names_are_literal():
    ids = np.array([[1, 0]], dtype=np.uint64)
    commands = encode_xadd_batch(b"a%db", ids, [VariableField(b"k%s", [b"%d%%"])])
    assert commands[0] == _packed("a%db", "1-0", "k%s", b"%d%%")


def test_single_irregular_entry():
    assert encode_xadd(b"s", b"3-4", {b"commands": b"stopGraph", b"do_save": b"1"}) == _packed(
        "s", "3-4", "commands", "stopGraph", "do_save", "1"
    )


def test_to_buffer_writes_channel_major_bytes():
    logical = np.arange(2 * 3 * 4, dtype=np.int16).reshape(2, 3, 4)  # (n, samp, chan)
    layout = FieldLayout("samples", "buffer", "int16", samp=3, chan=4, layout="channel-major")
    matrix = to_buffer(logical, layout)
    assert matrix.shape == (2, 24)
    back = np.frombuffer(matrix.tobytes(), dtype="<i2").reshape(2, 4, 3)
    assert np.array_equal(back.transpose(0, 2, 1), logical)
    sample_major = to_buffer(logical, FieldLayout("samples", "buffer", "int16", samp=3, chan=4))
    assert sample_major.tobytes() == logical.tobytes()


def test_ascii_seconds_keeps_nanoseconds():
    assert ascii_seconds(np.array([12_590_134_766_400, 5], dtype=np.uint64)) == [
        b"12590.134766400",
        b"0.000000005",
    ]
