"""CRC-64 as Redis computes it: known vectors, both implementations, chunking and combining."""

from __future__ import annotations

import numpy as np
import pytest

from neuroconv_brand.sources.rdb import checksum
from neuroconv_brand.sources.rdb.checksum import crc64, crc64_combine, crc64_numpy, crc64_reference

#: Redis' crc64.c self-test vector (the CRC-64/Jones "check" value).
CHECK = (b"123456789", 0xE9C6D914C4B8D9CA)


@pytest.mark.parametrize("function", [crc64, crc64_numpy, crc64_reference])
def test_known_vectors(function):
    assert function(CHECK[0]) == CHECK[1]
    assert function(b"") == 0
    assert function(b"\x00") == 0  # no initial value, no final xor: zeros stay zero
    assert function(b"a") == crc64_reference(b"a") != 0


@pytest.mark.parametrize("size", [1, 7, 8, 100, 16383, 16384, 16385, 100_003, 1 << 20, (3 << 20) + 13])
def test_numpy_lanes_equal_the_byte_loop(size):
    data = np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8).tobytes()
    expected = crc64_reference(data) if size <= 200_000 else crc64_numpy(data)
    assert crc64_numpy(data) == expected == crc64(data)
    if size > 200_000:  # large sizes: check against the reference through chunked continuation
        crc = 0
        for start in range(0, size, 65_536):
            crc = crc64_reference(data[start : start + 65_536], crc)
        assert crc == expected


def test_continuation_and_combine():
    data = np.random.default_rng(1).integers(0, 256, 300_000, dtype=np.uint8).tobytes()
    whole = crc64_numpy(data)
    for cut in (0, 1, 9, 16384, 123_457, 299_999, 300_000):
        a, b = data[:cut], data[cut:]
        assert crc64_numpy(b, crc64_numpy(a)) == whole
        assert crc64(b, crc64(a)) == whole
        head, tail = a[: cut // 2], a[cut // 2 :]
        assert crc64_combine(crc64_reference(head), crc64_reference(tail), len(tail)) == crc64_reference(a)
        assert crc64_combine(crc64_numpy(a), crc64_numpy(b), len(b)) == whole


def test_combine_rejects_negative_lengths():
    with pytest.raises(ValueError, match="length_b"):
        crc64_combine(1, 2, -1)


def test_accepts_memoryview_and_numpy():
    data = bytes(range(256)) * 100
    assert crc64(memoryview(data)[10:]) == crc64_reference(data[10:])
    assert (
        crc64(np.frombuffer(data, np.uint8))
        == crc64_numpy(np.frombuffer(data, np.uint8))
        == crc64_reference(data)
    )


def test_anycrc_backend_when_installed():
    anycrc = pytest.importorskip("anycrc")
    assert checksum.BACKEND == "anycrc"
    model = anycrc.Model("CRC64-REDIS")
    data = np.random.default_rng(2).integers(0, 256, 2_000_000, dtype=np.uint8).tobytes()
    assert model.calc(data) == crc64_numpy(data)
