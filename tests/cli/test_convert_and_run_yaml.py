"""`neuroconv-brand convert` and `run-yaml`, run as the real console script against .rdb files."""

import subprocess
from pathlib import Path

import numpy as np
import pytest
from pynwb import read_nwb


def run(*args, cwd=None):
    return subprocess.run(["neuroconv-brand", *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def test_convert_writes_the_session_and_a_summary(clean_session, tmp_path):
    output = tmp_path / "session.nwb"
    metadata = tmp_path / "metadata.yaml"
    metadata.write_text(
        "Subject:\n  species: Homo sapiens\n  sex: F\n  age: P50Y\nNWBFile:\n  lab: BCI lab\n"
    )
    result = run("convert", str(clean_session.rdb_path), "-o", str(output), "--metadata", str(metadata))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"wrote {output} (")
    nwbfile = read_nwb(output)
    assert (nwbfile.subject.species, nwbfile.lab) == ("Homo sapiens", "BCI lab")
    truth = clean_session.truth.streams["sbp"].fields["samples"]
    np.testing.assert_array_equal(nwbfile.acquisition["sbp_samples"].data[:], truth.reshape(len(truth), -1))
    assert len(nwbfile.trials) == len(clean_session.truth.trials)


def test_convert_one_stream_stub_zarr(clean_session, tmp_path, read_zarr_in_fresh_process):
    output = tmp_path / "sbp.nwb.zarr"
    result = run(
        "convert",
        str(clean_session.rdb_path),
        "-o",
        str(output),
        "--stream",
        "sbp",
        "--stub",
        "--backend",
        "zarr",
    )
    assert result.returncode == 0, result.stderr
    assert "converted: Participant, sbp" in result.stdout
    assert read_nwb(output).acquisition["sbp_samples"].data.shape[0] == 1000
    groups = [electrode.implant for electrode in clean_session.truth.electrodes]
    assert read_zarr_in_fresh_process(output)["electrode_groups"] == groups  # JSON references, no pickle


def test_convert_refuses_to_overwrite_and_keeps_the_file(clean_session, tmp_path):
    output = tmp_path / "session.nwb"
    output.write_bytes(b"keep me")
    result = run("convert", str(clean_session.rdb_path), "-o", str(output))
    assert result.returncode == 2
    assert "already exists; pass --overwrite" in result.stderr
    assert output.read_bytes() == b"keep me"


def test_convert_bad_inputs(clean_session, tmp_path):
    missing = run("convert", str(tmp_path / "nope.rdb"), "-o", str(tmp_path / "x.nwb"))
    assert missing.returncode == 2 and "no such file" in missing.stderr
    unknown = run("convert", str(clean_session.rdb_path), "-o", str(tmp_path / "x.nwb"), "--stream", "nope")
    assert unknown.returncode == 1 and "stream(s) ['nope'] are not in the graph" in unknown.stderr
    no_metadata = run(
        "convert",
        str(clean_session.rdb_path),
        "-o",
        str(tmp_path / "x.nwb"),
        "--metadata",
        str(tmp_path / "m.yaml"),
    )
    assert no_metadata.returncode == 2 and "--metadata" in no_metadata.stderr
    assert not (tmp_path / "x.nwb").exists()


def write_spec(folder: Path, experiment: str, sessions: dict) -> Path:
    """A run-yaml specification of ``BrandConverter`` sessions (output name -> .rdb path)."""
    lines = ["data_interfaces: {brand: BrandConverter}", "experiments:", f"  {experiment}:", "    sessions:"]
    for name, rdb in sessions.items():
        lines += [f"      - nwbfile_name: {name}", f"        source_data: {{brand: {{file_path: {rdb}}}}}"]
    spec = folder / "spec.yaml"
    spec.write_text("\n".join(lines) + "\n")
    return spec


def test_run_yaml_converts_every_session(clean_session, hazard_session, tmp_path):
    spec = write_spec(
        tmp_path, "cursor", {"clean": clean_session.rdb_path.name, "hazards": hazard_session.rdb_path}
    )
    result = run(
        "run-yaml", str(spec), "--data-folder-path", str(clean_session.folder),
        "--output-folder-path", str(tmp_path / "out"), "--jobs", "2",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ResourceWarning" not in result.stdout + result.stderr  # every spool file is closed by its owner
    for name, saved in (("clean", clean_session), ("hazards", hazard_session)):
        nwbfile = read_nwb(tmp_path / "out" / f"{name}.nwb")
        assert len(nwbfile.trials) == len(saved.truth.trials)


def test_run_yaml_reports_a_failing_session_and_exits_1(clean_session, tmp_path):
    spec = write_spec(tmp_path, "e", {"good": clean_session.rdb_path, "missing": tmp_path / "missing.rdb"})
    result = run("run-yaml", str(spec), "--output-folder-path", str(tmp_path / "out"))
    assert result.returncode == 1
    assert "missing.rdb" in result.stdout + result.stderr
    assert (tmp_path / "out" / "good.nwb").exists() and not (tmp_path / "out" / "missing.nwb").exists()


def test_run_yaml_skip_existing_converts_only_the_missing_outputs(clean_session, tmp_path):
    spec = write_spec(tmp_path, "e", {"first": clean_session.rdb_path, "second": clean_session.rdb_path})
    out = tmp_path / "out"
    assert run("run-yaml", str(spec), "--output-folder-path", str(out)).returncode == 0
    first_written = (out / "first.nwb").stat().st_mtime_ns
    (out / "second.nwb").unlink()  # as if the second session had failed

    result = run("run-yaml", str(spec), "--output-folder-path", str(out), "--skip-existing")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 of 2 session(s) converted, 1 skipped (output exists)" in result.stdout
    assert f"skip       0.0 s  $.experiments.e.sessions[0] -> {out / 'first.nwb'}" in result.stdout
    assert (out / "first.nwb").stat().st_mtime_ns == first_written
    assert len(read_nwb(out / "second.nwb").trials) == len(clean_session.truth.trials)

    both = run("run-yaml", str(spec), "--overwrite", "--skip-existing")
    assert both.returncode == 2 and "not allowed with argument" in both.stderr


def test_convert_backend_config_lands_on_disk_and_inspect_reports(clean_session, tmp_path):
    import h5py

    config = tmp_path / "backend.yaml"
    config.write_text(
        "acquisition/sbp_samples/data:\n  chunk_shape: [500, 64]\n  compressors: [gzip]\n"
        "  compressor_options: [{level: 9}]\n"
    )
    metadata = tmp_path / "metadata.yaml"
    metadata.write_text("Subject: {species: Homo sapiens, sex: F, age: P50Y}\n")
    output = tmp_path / "session.nwb"
    result = run(
        "convert", str(clean_session.rdb_path), "-o", str(output), "--backend-config", str(config),
        "--metadata", str(metadata), "--inspect",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "nwbinspector (DANDI configuration): no problems" in result.stdout
    with h5py.File(output, "r") as file:
        data = file["acquisition/sbp_samples/data"]
        assert (data.chunks, data.compression, data.compression_opts) == ((500, 64), "gzip", 9)


def test_convert_bad_backend_config_is_a_usage_error_and_writes_nothing(clean_session, tmp_path):
    config = tmp_path / "backend.yaml"
    config.write_text("acquisition/nope/data: {chunk_shape: [10, 10]}\n")
    output = tmp_path / "session.nwb"
    result = run("convert", str(clean_session.rdb_path), "-o", str(output), "--backend-config", str(config))
    assert result.returncode == 2
    assert "'acquisition/nope/data' is not a dataset of this file" in result.stderr
    assert list(tmp_path.iterdir()) == [config]


def test_a_redis_that_goes_away_mid_conversion_fails_cleanly(tmp_path):
    import socket

    from neuroconv_brand import BrandConverter
    from neuroconv_brand.errors import SourceConnectionError
    from neuroconv_brand.sources.redis_server import EmbeddedRedisServer
    from neuroconv_brand.testing import BRAND_REDIS_CONFIG, SessionConfig, generate_session

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = EmbeddedRedisServer(extra_config={**BRAND_REDIS_CONFIG, "port": str(port), "bind": "127.0.0.1"})
    try:
        truth = generate_session(server.client(), SessionConfig(duration_s=3.0, seed=8), tmp_path / "files")
        converter = BrandConverter(
            file_path=f"redis://127.0.0.1:{port}/0",
            participant_file=truth.participant_file,
            devices_file=truth.devices_file,
        )
    finally:
        server.close()  # the rig's Redis goes away after the converter was set up, before the data are read
    output = tmp_path / "session.nwb"
    with pytest.raises(SourceConnectionError, match="cannot reach the Redis server"):
        converter.run_conversion(nwbfile_path=output)
    assert not output.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".session")]


def test_convert_all_streams_includes_disabled_ones(clean_session, tmp_path):
    output = tmp_path / "all.nwb"
    result = run("convert", str(clean_session.rdb_path), "-o", str(output), "--all-streams")
    assert result.returncode == 0, result.stderr
    converted = result.stdout.splitlines()[1].removeprefix("converted: ").split(", ")
    assert {"sbp", "binned_spikes", "cursorData", "targetData", "thresh_cross", "state"} <= set(converted)
    assert len(read_nwb(output).acquisition["sbp_samples"].data) == len(
        clean_session.truth.streams["sbp"].ids
    )


def test_convert_spool_dir_and_read_workers(clean_session, tmp_path):
    output, spool = tmp_path / "session.nwb", tmp_path / "spool"
    result = run(
        "convert",
        str(clean_session.rdb_path),
        "-o",
        str(output),
        "--spool-dir",
        str(spool),
        "--read-workers",
        "1",
    )
    assert result.returncode == 0, result.stderr
    truth = clean_session.truth.streams["sbp"].fields["samples"]
    np.testing.assert_array_equal(
        read_nwb(output).acquisition["sbp_samples"].data[:], truth.reshape(len(truth), -1)
    )
    assert spool.is_dir() and not list(spool.iterdir())  # the spooled data are deleted after the conversion


def test_convert_bad_spool_dir_and_read_workers(clean_session, tmp_path):
    output = tmp_path / "x.nwb"
    zero = run("convert", str(clean_session.rdb_path), "-o", str(output), "--read-workers", "0")
    assert (
        zero.returncode == 2
        and "--read-workers: expected a whole number of at least 1, not '0'" in zero.stderr
    )
    a_file = tmp_path / "file.txt"
    a_file.write_text("not a folder")
    not_folder = run("convert", str(clean_session.rdb_path), "-o", str(output), "--spool-dir", str(a_file))
    assert not_folder.returncode == 2 and f"--spool-dir {a_file}: not a folder" in not_folder.stderr
    assert not output.exists()
