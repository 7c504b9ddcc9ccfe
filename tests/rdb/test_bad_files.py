"""Bad files: each kind of damage raises its RdbFileError subclass naming the offset, the key and the problem."""

from __future__ import annotations

import struct

import pytest

from neuroconv_brand.errors import RdbFileError
from neuroconv_brand.sources.rdb import (
    RdbChecksumError,
    RdbCorruptError,
    RdbHeaderError,
    RdbNotFoundError,
    RdbParseError,
    RdbStreamSource,
    RdbTruncatedError,
    RdbUnknownTypeError,
    build_index,
)
from neuroconv_brand.sources.rdb import format as fmt

from . import rdb_writer as w
from .rdb_writer import RdbWriter, StreamEntry
from .recorded import load_recorded
from .samples import T0, refresh_checksum, small_file


def _check_message(error: RdbParseError, key: bytes | None = None) -> None:
    assert isinstance(error, RdbFileError)
    assert f"at byte offset {error.offset}" in str(error)
    assert error.path in str(error)
    if key is not None:
        assert error.key == key and f"key {key!r}" in str(error)


def test_small_file_reads(write):
    data, _ = small_file()
    source = RdbStreamSource(write(data))
    assert source.stream_names() == ["lzf_stream", "stream"]
    assert (
        source.read_range("stream")
        == source.read_range("lzf_stream")
        == [
            (b"1700000000000-0", {b"a": b"1", b"b": b"x" * 70}),
            (b"1700000000001-0", {b"a": b"2", b"b": b"y"}),
            (b"1700000000009-1", {b"c": b"3"}),
        ]
    )


@pytest.mark.parametrize("verify", [True, False])
def test_truncated_at_every_offset(write, verify):
    data, spans = small_file()
    path = write(b"")
    for cut in range(len(data)):
        path.write_bytes(data[:cut])
        with pytest.raises(RdbFileError) as caught:
            build_index(path, verify_checksum=verify)
        if cut < fmt.HEADER_SIZE:
            assert isinstance(caught.value, RdbHeaderError), cut
            continue
        assert isinstance(caught.value, RdbTruncatedError), (cut, caught.value)
        assert caught.value.offset <= cut
        owner = [name for name, start, end in spans if start <= cut < end]
        _check_message(caught.value, owner[0] if owner else None)
        assert f"the file ends at byte {cut}" in str(caught.value)


def test_truncated_recorded_fixtures(write):
    for name in ("brand_v9", "brand_v10"):
        data = load_recorded(name).path.read_bytes()
        path = write(b"", name)
        for cut in [*range(9, len(data), 997), len(data) - 8, len(data) - 1]:
            path.write_bytes(data[:cut])
            with pytest.raises(RdbTruncatedError) as caught:
                RdbStreamSource(path)
            _check_message(caught.value)


def test_missing_file_and_not_a_file(tmp_path):
    with pytest.raises(RdbNotFoundError, match="no such file"):
        RdbStreamSource(tmp_path / "nope.rdb")
    with pytest.raises(RdbNotFoundError, match="no such file"):
        RdbStreamSource(tmp_path)


@pytest.mark.parametrize(
    "content", [b"", b"REDIS", b"REDIS001", b"RDB0010xxxxxxxx", b"REDISabcd\xff", b"redis0010\xff"]
)
def test_not_an_rdb_file(write, content):
    with pytest.raises(RdbHeaderError, match="not a Redis RDB file"):
        RdbStreamSource(write(content))


def test_checksum_mismatch(write):
    data = bytearray(load_recorded("brand_v10").path.read_bytes())
    index = build_index(load_recorded("brand_v10").path)
    neural = index.streams[(0, b"neural")]
    flip = int(neural.checkpoint_offsets[0]) + 200  # inside the first node's payload
    data[flip] ^= 0x10
    path = write(bytes(data))
    with pytest.raises(RdbChecksumError, match="checksum mismatch: the file stores CRC-64") as caught:
        RdbStreamSource(path)
    assert caught.value.offset == len(data) - 8
    assert "verify_checksum=False" in str(caught.value)
    # Without verification the file opens; the damage shows in (or breaks) the data of that node only.
    source = RdbStreamSource(path, verify_checksum=False)
    expected = load_recorded("brand_v10").entries("cursor")
    assert source.read_range("cursor") == expected
    try:
        neural_entries = source.read_range("neural")
    except RdbCorruptError as error:
        _check_message(error, b"neural")
    else:
        assert neural_entries != load_recorded("brand_v10").entries("neural")


def test_a_damaged_version_that_drops_the_checksum_is_caught(write):
    # "REDIS0012" read as "REDIS0002" (no checksum) and a SELECTDB opcode turned into EOF: without the
    # trailing-bytes check this read as an empty database.
    data = bytearray(small_file()[0])
    data[5:9] = b"0002"
    eof_at = data.index(bytes([fmt.OP_SELECTDB]))
    data[eof_at] = fmt.OP_EOF
    with pytest.raises(
        RdbCorruptError, match=r"byte\(s\) follow the EOF opcode, but a version-2 file"
    ) as caught:
        RdbStreamSource(write(bytes(data)))
    assert caught.value.offset == eof_at + 1
    _check_message(caught.value)


def _replace_once(data: bytes, old: bytes, new: bytes) -> bytes:
    assert data.count(old) == 1, old
    return data.replace(old, new)


def test_unknown_opcode_or_type(write):
    data = RdbWriter().string_key(b"k", b"v").finish()
    marker = bytes([fmt.TYPE_STRING]) + w.string(b"k")
    for kind in (8, 26, 200, 243):
        bad = refresh_checksum(_replace_once(data, marker, bytes([kind]) + marker[1:]))
        with pytest.raises(RdbUnknownTypeError, match=f"unknown opcode or value type {kind}") as caught:
            RdbStreamSource(write(bad))
        assert caught.value.offset == data.index(marker)
        _check_message(caught.value)


def test_unknown_length_and_string_encodings(write):
    data = RdbWriter().string_key(b"key", b"value").finish()
    bad_length = refresh_checksum(_replace_once(data, b"\x03key", b"\x82key"))
    with pytest.raises(RdbUnknownTypeError, match="unknown length encoding byte 0x82 in a key name"):
        build_index(write(bad_length))
    bad_string = refresh_checksum(_replace_once(data, b"\x05value", b"\xc5value"))
    with pytest.raises(RdbUnknownTypeError, match="unknown string encoding 5 in the value") as caught:
        build_index(write(bad_string))
    _check_message(caught.value, b"key")
    marker = bytes([fmt.TYPE_LIST]) + w.string(b"l") + w.length(2)
    listed = RdbWriter().key(fmt.TYPE_LIST, b"l", w.strings(b"a", b"b")).finish()
    bad_count = refresh_checksum(_replace_once(listed, marker, marker[:-1] + b"\xc0"))
    with pytest.raises(RdbCorruptError, match="expected an element count but found a string encoding marker"):
        build_index(write(bad_count))


def test_corrupt_lzf(write):
    name_data = RdbWriter().key(fmt.TYPE_STRING, b"n" * 40, w.string(b"v"), name_encoding="lzf").finish()
    compressed = w.string(b"n" * 40, "lzf")  # c3, compressed length, 40, data
    for damaged in (compressed[:3] + b"\xe0" + compressed[4:], compressed[:2] + b"\x29" + compressed[3:]):
        bad = refresh_checksum(_replace_once(name_data, compressed, damaged))
        with pytest.raises(RdbCorruptError, match=r"LZF-compressed a key name .* does not decompress"):
            build_index(write(bad))
    nodes = [[StreamEntry(T0, 0, [(b"a", b"x" * 100)])]]
    stream_data = RdbWriter().stream_key(b"s", nodes, compress_nodes=True).finish()
    _, lp = w.stream_node(nodes[0])
    packed = w.string(lp, "lzf")
    bad = refresh_checksum(_replace_once(stream_data, packed, packed[:3] + b"\x1f" + packed[4:]))
    source = RdbStreamSource(write(bad))  # the index pass never decompresses node payloads
    with pytest.raises(RdbCorruptError, match="LZF-compressed listpack of stream node 0") as caught:
        source.read_range("s")
    _check_message(caught.value, b"s")


def _stream_file_with_listpack(lp: bytes, master: bytes = struct.pack(">QQ", T0, 0)) -> bytes:
    value = w.length(1) + w.string(master) + w.string(lp) + w.length(1) + w.length(T0) + w.length(0)
    value += w.length(T0) + w.length(0) + w.length(0) + w.length(0) + w.length(1) + w.length(0)
    return RdbWriter().key(fmt.TYPE_STREAM_LISTPACKS_2, b"s", value).finish()


_GOOD = [1, 0, 1, b"a", 0, fmt.STREAM_FLAG_SAMEFIELDS, 0, 0, b"v", 4]


@pytest.mark.parametrize(
    ("elements", "patch", "message"),
    [
        (_GOOD, lambda lp: lp[:4] + b"\x00" + lp[5:], "the listpack header says .* elements"),
        (_GOOD, lambda lp: (len(lp) + 1).to_bytes(4, "little") + lp[4:], "header says .* bytes"),
        (_GOOD, lambda lp: lp[:-1] + b"\x00", "does not end with 0xFF"),
        (_GOOD, lambda lp: lp[:6] + b"\xf6" + lp[7:], "unknown listpack element encoding 0xf6"),
        (_GOOD, lambda lp: lp[:6] + b"\xff" + lp[7:], "terminator before the end"),
        ([*_GOOD[:-1], 5], None, "lp-count is 5, expected 4"),
        (
            [2, 0, 1, b"a", 0, 2, 0, 0, b"v", 4],
            None,
            "counts 2 live and 0 deleted entries, but holds 1 and 0",
        ),
        ([1, 0, 1, b"a", 1, 2, 0, 0, b"v", 4], None, "master entry is not terminated by 0"),
        ([1, 0, 1, b"a", 0, 9, 0, 0, b"v", 4], None, "invalid flags 9"),
        ([1, 0, 1, b"a", 0, 0, 0, 0, 3, b"f", b"v", 10], None, "fields run past the end|runs past the end"),
        ([1, 0, 1, b"a", 0, 0, b"x", 0, 1, b"f", b"v", 6], None, "id differences are not integers"),
        ([1, 0, 1, b"a", 0, 2, b"x", 0, b"v", 4], None, "an element of the wrong kind"),
        ([b"x", 0, 1, 0], None, "does not start with three integers"),
        ([1, 0], None, "has only 2 elements"),
    ],
)
def test_corrupt_stream_nodes(write, elements, patch, message):
    lp = w.listpack(elements)
    if patch is not None:
        lp = patch(lp)
    source = RdbStreamSource(write(_stream_file_with_listpack(lp)))
    with pytest.raises(RdbCorruptError, match=message) as caught:
        source.read_range("s")
    _check_message(caught.value, b"s")
    assert "stream node 0 (master id 1700000000000-0) is malformed" in str(caught.value)


def test_corrupt_stream_structure(write):
    lp = w.listpack(_GOOD)
    with pytest.raises(RdbCorruptError, match="master id has 15 bytes, not 16"):
        build_index(write(_stream_file_with_listpack(lp, b"x" * 15)))
    node = w.string(struct.pack(">QQ", T0, 5)) + w.string(lp)
    value = w.length(2) + node + node + w.length(2) + w.length(T0) + w.length(5) + w.length(0)
    data = RdbWriter(9).key(fmt.TYPE_STREAM_LISTPACKS, b"s", value).finish()
    with pytest.raises(RdbCorruptError, match="master id 1700000000000-5 is not after 1700000000000-5"):
        build_index(write(data))
    empty = w.length(0) + w.length(3) + w.length(T0) + w.length(0) + w.length(0)
    data = RdbWriter(9).key(fmt.TYPE_STREAM_LISTPACKS, b"s", empty).finish()
    with pytest.raises(RdbCorruptError, match="stream length is 3 but it has no nodes") as caught:
        build_index(write(data))
    _check_message(caught.value, b"s")


def test_duplicate_keys_and_bad_quicklist(write):
    data = RdbWriter().string_key(b"k", b"1").string_key(b"k", b"2").finish()
    with pytest.raises(RdbCorruptError, match="key b'k' appears twice in database 0"):
        build_index(write(data))
    data = RdbWriter().key(fmt.TYPE_LIST_QUICKLIST_2, b"q", w.quicklist2([(7, b"x")])).finish()
    with pytest.raises(RdbCorruptError, match="container type 7 is not 1 or 2") as caught:
        build_index(write(data))
    _check_message(caught.value, b"q")
