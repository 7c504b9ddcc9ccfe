"""One read per stream: timelines, spooled data, reading workers, and the spool folder's life cycle."""

import gc
import json
import shutil
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest
from pynwb import NWBHDF5IO, read_nwb

from neuroconv_brand import BrandConverter
from neuroconv_brand.errors import StreamDecodeError
from neuroconv_brand.reading.spool_files import SpooledArray, SpooledParts
from neuroconv_brand.reading.stream_spool import (
    READ_WORKERS_VARIABLE,
    SPOOL_DIR_VARIABLE,
    read_workers,
    session_spool,
)
from neuroconv_brand.sources.session import BrandSession
from neuroconv_brand.testing import SessionConfig, save_session_rdb


def spool_of(converter: BrandConverter):
    return session_spool(converter.data_interface_objects["sbp"].session)


def own_copy(rdb_path, folder):
    """A copy of a session file: a session that no other test holds open (sessions are shared per file)."""
    copy = folder / "own_copy.rdb"
    shutil.copyfile(rdb_path, copy)
    return copy


def test_each_stream_is_read_once_with_its_data_spooled(clean_session):
    converter = BrandConverter(file_path=clean_session.rdb_path)
    converter.read_streams(workers=2)
    spool = spool_of(converter)
    sbp = spool.passes[("sbp", "raise")]
    truth = clean_session.truth.streams["sbp"]
    np.testing.assert_array_equal(sbp.timeline.ids, truth.ids)
    samples = sbp.keys["samples"]
    assert samples.rows == len(truth.ids) * truth.fields["samples"].shape[1]
    expected = truth.fields["samples"].reshape(-1, truth.fields["samples"].shape[-1])
    np.testing.assert_array_equal(samples.read_rows(0, samples.rows), expected)
    np.testing.assert_array_equal(samples.read_rows(5, 9), expected[5:9])
    # Writing reads the spool: the session's passes are the ones read ahead, not new ones.
    before = {name: id(stream_pass) for name, stream_pass in spool.passes.items()}
    converter.create_nwbfile()
    assert {name: id(stream_pass) for name, stream_pass in spool.passes.items()} == before


def test_workers_and_a_single_process_write_the_same_file(clean_session, tmp_path, monkeypatch):
    contents = []
    for workers in ("1", "2"):
        monkeypatch.setenv(READ_WORKERS_VARIABLE, workers)
        path = tmp_path / f"workers_{workers}.nwb"
        BrandConverter(file_path=clean_session.rdb_path).run_conversion(nwbfile_path=path)
        nwbfile = read_nwb(path)
        contents.append(
            dict(
                sbp=nwbfile.acquisition["sbp_samples"].data[:],
                spikes=nwbfile.units["spike_times"].data[:],
                clocks=nwbfile.processing["brand_timestamps"]["thresh_cross_ts"].to_dataframe().to_numpy(),
            )
        )
    for name in contents[0]:
        np.testing.assert_array_equal(contents[0][name], contents[1][name])


def test_the_spool_folder_is_deleted_when_the_session_closes(clean_session, tmp_path, monkeypatch):
    monkeypatch.setenv(SPOOL_DIR_VARIABLE, str(tmp_path / "spool here"))
    with BrandSession.open(own_copy(clean_session.rdb_path, tmp_path)) as session:
        spec = session.graph().streams["sbp"]
        spool = session_spool(session)
        samples = spool.stream_pass(spec, "raise", spool=True).keys["samples"]
        folder = spool.folder
        assert folder.parent == tmp_path / "spool here"
        assert not any(path.is_file() for path in folder.rglob("*"))  # unlinked once read: nothing to leak
    assert not folder.exists()
    # What still reads a spooled file keeps it open after the session closed; its space goes with it.
    truth = clean_session.truth.streams["sbp"].fields["samples"]
    np.testing.assert_array_equal(samples.read_rows(0, 3), truth.reshape(-1, truth.shape[-1])[:3])


def test_an_nwbfile_outlives_its_converter(clean_session, tmp_path):
    nwbfile = BrandConverter(file_path=own_copy(clean_session.rdb_path, tmp_path)).create_nwbfile()
    gc.collect()  # the converter, its interfaces and its session are gone; the lazy data still read
    path = tmp_path / "later.nwb"
    with NWBHDF5IO(path, "w") as io:
        io.write(nwbfile)
    written = read_nwb(path)
    truth = clean_session.truth.streams["sbp"]
    samples = truth.fields["samples"]
    np.testing.assert_array_equal(
        written.acquisition["sbp_samples"].data[:], samples.reshape(len(samples), -1)
    )
    clocks = written.processing["brand_timestamps"]["sbp_ts"]
    np.testing.assert_array_equal(clocks["redis_seq"][:], truth.ids[:, 1])


def test_no_workers_while_threads_run(clean_session, tmp_path):
    # fork() copies only the calling thread, which can leave a child waiting on a lock another thread held.
    release = threading.Event()
    helper = threading.Thread(target=release.wait)
    helper.start()
    try:
        converter = BrandConverter(file_path=own_copy(clean_session.rdb_path, tmp_path))
        converter.read_streams(workers=2)
        assert spool_of(converter).passes == {}
    finally:
        release.set()
        helper.join()


def test_read_workers_setting(monkeypatch):
    monkeypatch.setenv(READ_WORKERS_VARIABLE, "3")
    assert read_workers() == 3
    monkeypatch.setenv(READ_WORKERS_VARIABLE, "many")
    with pytest.raises(ValueError, match="NEUROCONV_BRAND_READ_WORKERS must be a whole number, not 'many'"):
        read_workers()


@pytest.fixture(scope="module")
def bad_payload_session(tmp_path_factory):
    """A session whose sbp stream ends with an entry of 3 payload bytes."""

    def append_bad_entry(client, truth):
        last = truth.streams["sbp"].ids[-1]
        sync = json.dumps({"nsp_idx_1": int(truth.streams["sbp"].sync["nsp_idx_1"][-1]) + 1})
        client.xadd(
            "sbp",
            {"samples": b"\x01\x02\x03", "sync": sync, "ts": np.uint64(1).tobytes()},
            id=f"{last[0] + 1}-0",
        )

    folder = tmp_path_factory.mktemp("bad_payload")
    config = SessionConfig(duration_s=1.0, task=False, seed=5)
    truth = save_session_rdb(config, folder / "session.rdb", folder, before_save=append_bad_entry)
    return folder / "session.rdb", truth


def test_a_failing_worker_gives_the_error_of_the_stream(bad_payload_session, tmp_path):
    rdb, truth = bad_payload_session
    converter = BrandConverter(file_path=own_copy(rdb, tmp_path))
    converter.read_streams(workers=2)  # the worker fails; the stream is read again when needed
    assert ("sbp", "raise") not in spool_of(converter).passes
    bad_id = f"{int(truth.streams['sbp'].ids[-1, 0]) + 1}-0"
    with pytest.raises(
        StreamDecodeError, match=rf"stream 'sbp', entry {bad_id}, key 'samples': payload is 3 bytes"
    ):
        converter.run_conversion(nwbfile_path=tmp_path / "never.nwb")
    assert [path.name for path in tmp_path.iterdir()] == ["own_copy.rdb"]


def test_skipped_entries_are_reported_from_the_workers(bad_payload_session):
    rdb, truth = bad_payload_session
    converter = BrandConverter(file_path=rdb, on_bad_entry="skip")
    with pytest.warns(UserWarning, match=r"stream 'sbp': skipped 1 entries"):
        converter.read_streams(workers=2)
    timeline = spool_of(converter).passes[("sbp", "skip")].timeline
    np.testing.assert_array_equal(timeline.ids, truth.streams["sbp"].ids)


def test_a_full_spool_folder_is_a_clear_error_and_writes_nothing(clean_session, tmp_path):
    # A file-size limit makes the spool's writes fail as a full disk would (EFBIG instead of ENOSPC).
    script = textwrap.dedent(
        f"""
        import os, resource, signal, sys
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, resource.RLIM_INFINITY))
        os.environ["{READ_WORKERS_VARIABLE}"] = "1"
        os.environ["{SPOOL_DIR_VARIABLE}"] = {str(tmp_path / "spool")!r}
        from neuroconv_brand import BrandConverter
        from neuroconv_brand.reading.stream_spool import SpoolSpaceError
        try:
            BrandConverter(file_path={str(clean_session.rdb_path)!r}).run_conversion(
                nwbfile_path={str(tmp_path / "out.nwb")!r}
            )
        except SpoolSpaceError as error:
            print(error)
            sys.exit(3)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 3, result.stderr
    assert "no space left" in result.stdout and SPOOL_DIR_VARIABLE in result.stdout
    assert not (tmp_path / "out.nwb").exists()
    assert not [path for path in (tmp_path / "spool").rglob("*") if path.is_file()]


def test_a_spooled_column_that_does_not_fit_is_a_clear_error(clean_session, tmp_path):
    # Spike times are spooled after the streams: a column larger than the file-size limit fails as a full disk.
    script = textwrap.dedent(
        f"""
        import os, resource, signal, sys
        import numpy as np
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, resource.RLIM_INFINITY))
        os.environ["{SPOOL_DIR_VARIABLE}"] = {str(tmp_path / "spool")!r}
        from neuroconv_brand.sources.session import BrandSession
        from neuroconv_brand.reading.stream_spool import SpoolSpaceError, session_spool
        with BrandSession.open({str(clean_session.rdb_path)!r}) as session:
            try:
                session_spool(session).spool_column(np.zeros(100_000), "stream 'thresh_cross' spike times")
            except SpoolSpaceError as error:
                print(error)
                sys.exit(3)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 3, result.stderr
    assert "stream 'thresh_cross' spike times: no space left for its 1 MB" in result.stdout
    assert SPOOL_DIR_VARIABLE in result.stdout and "--spool-dir" in result.stdout
    assert not [path for path in (tmp_path / "spool").rglob("*") if path.is_file()]


def test_spooled_parts_read_as_one_array(tmp_path):
    """Rows spooled in several files (one per id range of a stream) read back as one, across file boundaries."""
    rows = np.arange(70 * 3, dtype=np.int16).reshape(70, 3)
    sizes = [20, 0, 45, 5]  # an id range may hold no entry
    parts, first = [], 0
    for number, size in enumerate(sizes):
        part = SpooledArray(tmp_path / f"part{number}.bin", np.int16, (3,))
        part.append(rows[first : first + size])
        parts.append(part)
        first += size
    joined = SpooledParts(parts)
    assert joined.rows == 70
    for start, stop in [(0, 70), (19, 21), (20, 65), (64, 70), (3, 4), (60, 200), (30, 30), (50, 40)]:
        np.testing.assert_array_equal(joined.read_rows(start, stop), rows[start:stop])
    joined.close()
