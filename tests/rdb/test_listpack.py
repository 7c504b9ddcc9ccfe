"""Listpack decoding: every element encoding and its boundaries, backlens, and malformed listpacks."""

from __future__ import annotations

import pytest

from neuroconv_brand.sources.rdb.listpack import (
    ListpackError,
    backlen_size,
    check_backlens,
    decode_backlen,
    listpack_elements,
)

from .rdb_writer import listpack, lp_element

INTEGERS = [0, 1, 127, 128, -1, 4095, -4096, 4096, -4097, 32767, -32768, 32768, -32769, 2**23 - 1, -(2**23),
            2**23, 2**31 - 1, -(2**31), 2**31, -(2**31) - 1, 2**63 - 1, -(2**63)]  # fmt: skip
#: First byte of each integer above: 7-bit, 13-bit (0xC0-0xDF), then 0xF1/F2/F3/F4 for 16/24/32/64 bits.
ENCODING = [0x00, 0x01, 0x7F, 0xC0, 0xDF, 0xCF, 0xD0, 0xF1, 0xF1, 0xF1, 0xF1, 0xF2, 0xF2, 0xF2, 0xF2,
            0xF3, 0xF3, 0xF3, 0xF4, 0xF4, 0xF4, 0xF4]  # fmt: skip
#: String lengths at each encoding's edges: 6-bit (< 64), 12-bit (< 4096), 32-bit; and where the backlen
#: grows from 1 to 2 bytes (element size 127/128) and from 2 to 3 (16382/16383).
LENGTHS = [0, 1, 63, 64, 125, 126, 127, 4095, 4096, 16377, 16378, 16379, 70_000]


def test_integer_encodings():
    for value, first in zip(INTEGERS, ENCODING, strict=True):
        element = lp_element(value)
        assert element[0] == first or (first == 0x00 and element[0] == value), value
        assert listpack_elements(listpack([value])) == [value]
    assert listpack_elements(listpack(INTEGERS)) == INTEGERS


def test_string_encodings():
    strings = [bytes([i % 251]) * n for i, n in enumerate(LENGTHS)]
    for data in strings:
        lp = listpack([data])
        assert listpack_elements(lp) == [data], len(data)
        check_backlens(lp)
    mixed = [x for pair in zip(strings, INTEGERS, strict=False) for x in pair]
    lp = listpack(mixed)
    assert listpack_elements(lp) == mixed
    check_backlens(lp)


def test_integer_looking_strings_are_stored_as_integers():
    assert listpack_elements(listpack([b"42", b"-7", b"1234567890123", b"007", b"-0"])) == [
        42, -7, 1234567890123, b"007", b"-0"
    ]  # fmt: skip


@pytest.mark.parametrize("size", [1, 127, 128, 16382, 16383, 2097150, 2097151, 268435454, 268435455, 2**32])
def test_backlen_sizes_follow_redis(size):
    expected = (
        1 if size <= 127 else 2 if size < 16383 else 3 if size < 2097151 else 4 if size < 268435455 else 5
    )
    assert backlen_size(size) == expected


def test_decode_backlen():
    for size in (5, 127, 128, 300, 16382, 16383, 70_005):
        element = lp_element(b"x" * (size - (1 if size < 65 else 2 if size < 4098 else 5)))
        lp = b"\x00" * 6 + element
        assert decode_backlen(lp, len(lp) - 1) == size


def test_check_backlens_finds_a_wrong_one():
    lp = bytearray(listpack([b"abc", 5]))
    lp[10] = 9  # the string's 1-byte backlen (element size 4)
    with pytest.raises(ListpackError, match="backlen does not match"):
        check_backlens(bytes(lp))


def test_unknown_count_is_accepted():
    assert listpack_elements(listpack([1, b"a"], count=65535)) == [1, b"a"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "at least 7 bytes"),
        (b"\x07\x00\x00\x00\x00\x00", "at least 7 bytes"),
        (b"\x08\x00\x00\x00\x00\x00\xff", "says 8 bytes but the string holds 7"),
        (b"\x07\x00\x00\x00\x00\x00\x00", "does not end with 0xFF"),
        (b"\x07\x00\x00\x00\x01\x00\xff", "says 1 elements but it holds 0"),
        (b"\x09\x00\x00\x00\x01\x00\xfa\x01\xff", "unknown listpack element encoding 0xfa"),
        (b"\x09\x00\x00\x00\x01\x00\xff\x01\xff", "terminator before the end"),
        (b"\x09\x00\x00\x00\x01\x00\x85\x01\xff", "runs past the end"),
        (b"\x0a\x00\x00\x00\x01\x00\xe0\x10\x01\xff", "runs past the end"),
        (b"\x0b\x00\x00\x00\x01\x00\xf0\x10\x00\x00\xff", "32-bit string length runs past"),
        (b"\x0b\x00\x00\x00\x01\x00\xf4\x10\x00\x00\xff", "integer runs past the end"),
        (b"\x0b\x00\x00\x00\x01\x00\xf2\x10\x00\x00\xff", "integer runs past the end"),
        (b"\x09\x00\x00\x00\x01\x00\xc0\x01\xff", "runs past the end"),
    ],
)
def test_malformed(data, message):
    with pytest.raises(ListpackError, match=message):
        listpack_elements(data)
