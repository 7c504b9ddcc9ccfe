import json

import numpy as np
import pytest

from neuroconv_brand.errors import StreamDecodeError
from neuroconv_brand.graph.stream_specs import KeySpec
from neuroconv_brand.reading.decoding import (
    decode_monotonic_ns,
    decode_numeric,
    decode_sync,
    decode_text,
    payload_lengths,
)
from neuroconv_brand.sources.base import FixedWidthColumn

IDS = [b"1-0", b"2-0", b"3-0"]


def test_sample_major_payloads_keep_their_order():
    truth = np.arange(3 * 2 * 4, dtype=np.int16).reshape(3, 2, 4)  # (entries, samp, chan)
    key = KeySpec("samples", chan=4, samp=2, dtype="int16")
    decoded = decode_numeric([entry.tobytes() for entry in truth], key)
    np.testing.assert_array_equal(decoded, truth)


def test_channel_major_payloads_are_transposed_to_time_first():
    truth = np.arange(3 * 2 * 4, dtype=np.int16).reshape(3, 2, 4)  # (entries, samp, chan)
    key = KeySpec("samples", chan=4, samp=2, dtype="int16", layout="channel-major")
    payloads = [entry.T.copy().tobytes() for entry in truth]  # cerebusAdapterGem writes [chan, samp]
    np.testing.assert_array_equal(decode_numeric(payloads, key), truth)


def test_sync_labels_bulk_parse_with_empty_and_missing_dicts():
    payloads = [b"{}", json.dumps({"nsp_idx_1": 7, "mouse": 2}).encode(), None]
    labels = decode_sync(payloads, "cursorData", IDS)
    assert list(labels.values) == ["nsp_idx_1", "mouse"]
    assert labels.values["nsp_idx_1"].tolist() == [0, 7, 0]
    assert labels.present["nsp_idx_1"].tolist() == [False, True, False]
    assert labels.masked("mouse").tolist() == [None, 2, None]


def test_sync_labels_fast_path_when_every_entry_has_them():
    payloads = [json.dumps({"nsp_idx_1": i}).encode() for i in range(3)]
    labels = decode_sync(payloads, "sbp", IDS)
    assert labels.values["nsp_idx_1"].tolist() == [0, 1, 2]
    assert labels.present["nsp_idx_1"].all()


def test_sync_that_is_not_json_names_the_entry():
    with pytest.raises(
        StreamDecodeError, match=r"stream 'sbp', entry 2-0: the sync field is not a JSON object"
    ):
        decode_sync([b'{"a": 1}', b"not json", b"{}"], "sbp", IDS)


def test_sync_label_that_is_not_an_integer_names_label_and_entry():
    with pytest.raises(StreamDecodeError, match=r"entry 3-0: sync label 'a' is 'x'"):
        decode_sync([b'{"a": 1}', b"{}", b'{"a": "x"}'], "sbp", IDS)


def test_monotonic_ns_binary_and_pre_2022_ascii_seconds():
    binary = [np.uint64(v).tobytes() for v in (10, 20, 12345678901234567)]
    assert decode_monotonic_ns(binary, "s", IDS).tolist() == [10, 20, 12345678901234567]
    ascii_seconds = [b"12601.819151985", b"12601.82", b"1"]
    assert decode_monotonic_ns(ascii_seconds, "s", IDS).tolist() == [
        12601819151985,
        12601820000000,
        1000000000,
    ]


def test_monotonic_ns_of_wrong_length_names_the_entry():
    with pytest.raises(StreamDecodeError, match=r"entry 2-0: the monotonic timestamp field is 3 bytes"):
        decode_monotonic_ns([np.uint64(1).tobytes(), b"\x00\x01\x02", None], "s", IDS)


def test_text_must_be_utf8():
    assert decode_text([b"start_time", "é".encode()], "state", "state", IDS[:2]).tolist() == [
        "start_time",
        "é",
    ]
    with pytest.raises(StreamDecodeError, match=r"entry 2-0, key 'state': not UTF-8"):
        decode_text([b"ok", b"\xff\xfe"], "state", "state", IDS[:2])


@pytest.mark.parametrize("layout", ["sample-major", "channel-major"])
def test_fixed_width_rows_decode_like_bytes(layout):
    # rows 11 bytes apart in a shared buffer (as in decoded listpacks), 8 bytes of int16 each
    key = KeySpec("samples", chan=2, samp=2, dtype="int16", layout=layout)
    payloads = [np.array([k, -k, 100 + k, 7], dtype="<i2").tobytes() for k in range(5)]
    buffer = np.frombuffer(b"".join(b"abc" + p for p in payloads), np.uint8)
    rows = np.lib.stride_tricks.as_strided(buffer[3:], shape=(5, 8), strides=(11, 1), writeable=False)
    column = FixedWidthColumn(rows)
    assert payload_lengths(column).tolist() == [8] * 5
    decoded = decode_numeric(column, key)
    np.testing.assert_array_equal(decoded, decode_numeric(payloads, key))
    assert decoded[3].tolist() == ([[3, -3], [103, 7]] if layout == "sample-major" else [[3, 103], [-3, 7]])
