"""A full disk at the output is one clear line, and nothing partial is left (real file systems, real subprocess)."""

from __future__ import annotations

import re
import resource
import signal
import subprocess
from pathlib import Path

import pytest

HINT = r"Free space there or write the output elsewhere \(-o\); the partial file was removed\.\n"


def convert(source: Path, output: Path, spool: Path, *options: str, preexec_fn=None):
    return subprocess.run(
        ["neuroconv-brand", "convert", str(source), "-o", str(output), "--spool-dir", str(spool), *options],
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=preexec_fn,
    )


@pytest.fixture
def small_file_system(tmp_path, request):
    """A real tmpfs of 1 MB, or of ``request.param`` (needs root and permission to mount; skipped otherwise)."""
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    size = getattr(request, "param", "1m")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount_point)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    yield mount_point
    subprocess.run(["umount", str(mount_point)], check=True)


@pytest.mark.parametrize("backend", ["hdf5", "zarr"])
def test_a_full_output_file_system_is_one_line_and_leaves_nothing(
    clean_session, small_file_system, tmp_path, backend
):
    output, spool = small_file_system / "session.nwb", tmp_path / "spool"
    result = convert(clean_session.rdb_path, output, spool, "--backend", backend)
    assert result.returncode == 1
    assert re.fullmatch(
        f"error: no room to write {re.escape(str(output))}: the file system is full \\(No space left on device; "
        f"file system {re.escape(str(small_file_system))}, \\d\\.\\d MB free of 1\\.0 MB\\) when the file had grown "
        f"to \\d\\.\\d MB\\. {HINT}",
        result.stderr,
    ), result.stderr
    assert list(small_file_system.iterdir()) == []
    assert list(spool.iterdir()) == []


@pytest.mark.parametrize("small_file_system", ["2m"], indirect=True)
def test_a_disk_filling_up_while_gzip_chunks_are_written_on_threads(
    clean_session, small_file_system, tmp_path
):
    # pynwb writes 0.9 MB (structure, empty gzip datasets); the disk fills while the threads write the chunks.
    output, spool = small_file_system / "session.nwb", tmp_path / "spool"
    result = convert(clean_session.rdb_path, output, spool, "--write-threads", "2")
    assert result.returncode == 1
    assert re.fullmatch(
        f"error: no room to write {re.escape(str(output))}: the file system is full \\(No space left on device; "
        f"file system {re.escape(str(small_file_system))}, \\d\\.\\d MB free of 2\\.1 MB\\) when the file had grown "
        f"to 2\\.\\d MB\\. {HINT}",
        result.stderr,
    ), result.stderr
    assert list(small_file_system.iterdir()) == []
    assert list(spool.iterdir()) == []


def test_a_file_size_limit_is_explained_the_same_way(clean_session, tmp_path):
    # The spooled sbp key (2.05 MB) fits under the limit; the 2.6 MB NWB file does not.
    def limit_file_size() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (2_150_000, resource.RLIM_INFINITY))

    output, spool = tmp_path / "out" / "session.nwb", tmp_path / "spool"
    result = convert(clean_session.rdb_path, output, spool, preexec_fn=limit_file_size)
    assert result.returncode == 1
    assert re.fullmatch(
        f"error: no room to write {re.escape(str(output))}: the file reached the largest file allowed \\(the shell's "
        "file-size limit, `ulimit -f`, or the file system's\\) \\(File too large; file system /\\S*, [\\d.]+ MB free "
        f"of [\\d.]+ MB\\) when the file had grown to 2\\.\\d MB\\. {HINT}",
        result.stderr,
    ), result.stderr
    assert list(output.parent.iterdir()) == []
    assert list(spool.iterdir()) == []
