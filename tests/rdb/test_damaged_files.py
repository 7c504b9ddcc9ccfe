"""Property test: damaged files (flipped, overwritten, inserted, deleted or cut bytes) never crash the reader.

With the checksum verified, a damaged file either reads exactly right or raises an RdbFileError. Without
it, data may be wrong but the only exception is still an RdbFileError (never IndexError, struct.error,
MemoryError, ...), and every example finishes quickly (an alarm turns a hang into a failure).
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neuroconv_brand.errors import RdbFileError
from neuroconv_brand.sources.entry_ids import EntryId
from neuroconv_brand.sources.rdb import RdbStreamSource

from .recorded import load_recorded
from .samples import small_file

SOURCES = {
    "small": small_file()[0],
    **{n: load_recorded(n).path.read_bytes() for n in ("brand_v9", "brand_v10")},
}
EXAMPLES = int(os.environ.get("RDB_FUZZ_EXAMPLES", "120"))  # raise for a deeper local run
SECONDS_PER_EXAMPLE = 20


@contextlib.contextmanager
def time_limit(seconds: int):
    """Fail instead of hanging (Unix; elsewhere the test relies on its own deadline)."""
    if not hasattr(signal, "SIGALRM"):
        yield
        return

    def _alarm(signum, frame):
        raise TimeoutError(f"reading a damaged file took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@st.composite
def damaged_files(draw) -> tuple[str, bytes]:
    name = draw(st.sampled_from(["small", "small", "brand_v9", "brand_v10"]))
    data = bytearray(SOURCES[name])
    kind = draw(st.sampled_from(["flip", "overwrite", "cut", "insert", "delete"]))
    position = st.integers(0, len(data) - 1)
    if kind == "flip":
        for _ in range(draw(st.integers(1, 4))):
            data[draw(position)] ^= 1 << draw(st.integers(0, 7))
    elif kind == "overwrite":
        start = draw(position)
        patch = draw(st.binary(min_size=1, max_size=9))
        data[start : start + len(patch)] = patch
    elif kind == "cut":
        del data[draw(position) :]
    elif kind == "insert":
        at = draw(position)
        data[at:at] = draw(st.binary(min_size=1, max_size=5))
    else:
        at = draw(position)
        del data[at : at + draw(st.integers(1, 20))]
    return name, bytes(data)


def read_everything(source: RdbStreamSource) -> dict[str, list]:
    """Exercise every reading path; return the full contents."""
    contents = {}
    for name in source.stream_names():
        contents[name] = source.read_range(name)
        stats = source.stream_stats(name)
        assert [e for batch in source.iter_batches(name, batch_size=50) for e in batch] == contents[name]
        source.read_latest(name, 3)
        if stats.first_id is not None:
            middle = EntryId(stats.first_id.ms + 100, 0)
            source.read_range(name, middle, None, 10)
    return contents


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("damaged")


@pytest.fixture(scope="module")
def originals(folder) -> dict[str, dict]:
    out = {}
    for name, data in SOURCES.items():
        path = folder / f"{name}.rdb"
        path.write_bytes(data)
        with RdbStreamSource(path) as source:
            out[name] = read_everything(source)
    return out


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(damaged=damaged_files())
def test_verified_reads_are_exact_or_rejected(damaged, folder, originals):
    name, data = damaged
    path = folder / "damaged_verified.rdb"
    path.write_bytes(data)
    with time_limit(SECONDS_PER_EXAMPLE):
        try:
            with RdbStreamSource(path) as source:
                contents = read_everything(source)
        except RdbFileError:
            return
    assert contents == originals[name]


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(damaged=damaged_files())
def test_unverified_reads_raise_only_rdb_errors(damaged, folder):
    _, data = damaged
    path = folder / "damaged_unverified.rdb"
    path.write_bytes(data)
    with time_limit(SECONDS_PER_EXAMPLE), contextlib.suppress(RdbFileError):
        for stride in (1, 4):
            with RdbStreamSource(
                path, verify_checksum=False, include_expired=True, node_stride=stride
            ) as source:
                read_everything(source)
