"""Ctrl-C (SIGINT) and SIGTERM stop a real ``neuroconv-brand`` subprocess in every phase, leaving nothing behind.

Each phase is recognised from outside, as a user would see it: a spool file being written (reading, in this
process or in forked workers), the hidden partial output growing (writing HDF5 or Zarr), the first session's
file appearing (run-yaml).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from pynwb import read_nwb

from neuroconv_brand.reading.stream_spool import SPOOL_DIR_VARIABLE
from neuroconv_brand.testing import SessionConfig, save_session_rdb

#: Seconds from the signal to the exit that the tests accept while reading.
STOP_WITHIN_S = 3.0
#: While writing, the buffer being compressed is finished first (h5py writes it in one call that Python cannot
#: interrupt): the raw stream's single 92 MB buffer with gzip takes 2-5 s on a busy 2-core machine.
WRITE_STOP_WITHIN_S = 10.0


@pytest.fixture(scope="module")
def raw_session(tmp_path_factory) -> Path:
    """A 12 s session with raw broadband data (about 100 MB), so that each phase lasts long enough to catch."""
    folder = tmp_path_factory.mktemp("interrupt_session")
    rdb = folder / "t0_231114T2213_raw.rdb"
    save_session_rdb(SessionConfig(duration_s=12.0, seed=3, raw=True), rdb, folder)
    return rdb


def wait_for(
    condition: Callable[[], bool], process: subprocess.Popen, what: str, timeout: float = 120
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            pytest.fail(
                f"the conversion ended (exit {process.returncode}) before {what}: {process.stderr.read()}"
            )
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"no {what} within {timeout} s")
        time.sleep(0.005)


def interrupt(
    args: list[str], when: Callable[[], bool], what: str, signum=signal.SIGINT, env: dict | None = None
) -> tuple[int, str, float]:
    """Start ``neuroconv-brand *args``, send ``signum`` once ``when()`` holds; exit code, stderr, seconds to stop."""
    process = subprocess.Popen(
        ["neuroconv-brand", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    wait_for(when, process, what)
    sent = time.monotonic()
    process.send_signal(signum)
    try:
        _, stderr = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail(f"still running 60 s after {signal.Signals(signum).name} ({what})")
    return process.returncode, stderr, time.monotonic() - sent


def spool_files(spool: Path) -> list[Path]:
    return [path for path in spool.rglob("*.bin")]


def partial_size(folder: Path) -> int:
    """The size of the largest partial output in ``folder`` (a file, or a Zarr folder being written)."""
    sizes = [
        sum(_size_if_present(item) for item in path.rglob("*")) if path.is_dir() else _size_if_present(path)
        for path in folder.glob(".*partial*")
    ]
    return max(sizes, default=0)


def _size_if_present(path: Path) -> int:
    """The size of a file the writer may rename or remove while we look (Zarr's ``.zarray.<id>.partial``)."""
    try:
        return path.stat().st_size if path.is_file() else 0
    except FileNotFoundError:
        return 0


def assert_stopped_cleanly(
    outcome: tuple[int, str, float], output_folder: Path, spool: Path, within_s: float = STOP_WITHIN_S
) -> None:
    code, stderr, seconds = outcome
    assert (code, stderr) == (130, "error: interrupted\n")
    assert seconds < within_s
    assert list(output_folder.iterdir()) == []  # no output (the conversion did not run on), no partial file
    assert list(spool.iterdir()) == []  # no spool folder


def convert_command(raw_session, tmp_path, *options: str) -> tuple[list[str], Path, Path]:
    """``convert`` arguments writing into a fresh ``out/`` folder with the spool in ``spool/``, and both folders."""
    output, spool = tmp_path / "out", tmp_path / "spool"
    output.mkdir()
    args = ["convert", str(raw_session), "-o", str(output / "s.nwb"), *options, "--spool-dir", str(spool)]
    return args, output, spool


@pytest.mark.parametrize("workers", ["1", "2"], ids=["in-process", "forked-workers"])
def test_interrupt_while_reading(raw_session, tmp_path, workers):
    args, output, spool = convert_command(raw_session, tmp_path, "--include-raw")
    outcome = interrupt(
        [*args, "--read-workers", workers], lambda: bool(spool_files(spool)), "spool file being written"
    )
    assert_stopped_cleanly(outcome, output, spool)


@pytest.mark.parametrize("workers", ["1", "2"], ids=["in-process", "forked-workers"])
def test_interrupt_while_reading_the_raw_stream(raw_session, tmp_path, workers):
    """Only the raw stream is converted: the signal lands in its one pass (its samples being spooled)."""
    args, output, spool = convert_command(raw_session, tmp_path, "--stream", "nsp_neural")
    outcome = interrupt(
        [*args, "--read-workers", workers],
        lambda: any(path.name.startswith("samples.c") for path in spool_files(spool)),
        "raw samples being spooled",
    )
    assert_stopped_cleanly(outcome, output, spool)


@pytest.mark.parametrize(
    ("backend", "signum"),
    [("hdf5", signal.SIGINT), ("zarr", signal.SIGINT), ("hdf5", signal.SIGTERM)],
    ids=["hdf5-SIGINT", "zarr-SIGINT", "hdf5-SIGTERM"],
)
def test_interrupt_while_writing(raw_session, tmp_path, backend, signum):
    args, output, spool = convert_command(raw_session, tmp_path, "--include-raw")
    outcome = interrupt(
        [*args, "--backend", backend],
        lambda: partial_size(output) > 2_000_000,
        "partial output of 2 MB",
        signum,
    )
    assert_stopped_cleanly(outcome, output, spool, WRITE_STOP_WITHIN_S)


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_run_yaml_interrupted_keeps_the_finished_session(raw_session, tmp_path, jobs):
    output, spool = tmp_path / "out", tmp_path / "spool"
    spec = tmp_path / "spec.yaml"
    sessions = "\n".join(
        f"      - {{nwbfile_name: {name}, source_data: {{brand: {{file_path: {raw_session}, include_raw: true}}}}}}"
        for name in ("first", "second", "third")
    )
    spec.write_text(
        f"data_interfaces: {{brand: BrandConverter}}\nexperiments:\n  e:\n    sessions:\n{sessions}\n"
    )
    spool.mkdir()

    def finished_one_and_writing_another() -> bool:
        finished = [path for path in output.glob("*.nwb") if not path.name.startswith(".")]
        return bool(finished) and partial_size(output) > 2_000_000

    code, stderr, seconds = interrupt(
        ["run-yaml", str(spec), "--output-folder-path", str(output), "--jobs", jobs],
        finished_one_and_writing_another,
        "the second session's partial output",
        env={**os.environ, SPOOL_DIR_VARIABLE: str(spool)},
    )
    assert (code, stderr) == (130, "error: interrupted\n")
    assert seconds < WRITE_STOP_WITHIN_S
    kept = sorted(path.name for path in output.iterdir())  # no partial file among them
    assert kept in (["first.nwb"], ["first.nwb", "second.nwb"], ["second.nwb"])
    for name in kept:
        assert len(read_nwb(output / name).trials) > 0
    assert list(spool.iterdir()) == []
