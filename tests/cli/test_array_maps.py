"""Blackrock ``.cmp`` array maps through ``convert``, ``run-yaml`` and ``validate`` (real processes, real files).

The positions expected here are read from the ``.cmp`` files themselves (``col * 400``, ``row * 400`` at channel
``bank_index * 32 + elec - 1``), not from the converter's reader.
"""

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from pynwb import read_nwb

from neuroconv_brand.testing import SessionConfig, save_session_rdb

from .test_convert_and_run_yaml import run, write_spec


def saved_cmp_session(folder: Path):
    rdb_path = folder / "t0_cmp.rdb"
    config = SessionConfig(duration_s=1.0, array_map_format="cmp", seed=5)
    return rdb_path, save_session_rdb(config, rdb_path, folder)


@pytest.fixture(scope="module")
def cmp_session(tmp_path_factory):
    return saved_cmp_session(tmp_path_factory.mktemp("cmp_session"))


def expected_rows(map_files: list[Path], channels: int) -> tuple[np.ndarray, list[str]]:
    """(rel_x, rel_y) and label of every electrode row, parsed from the .cmp files in implant order."""
    positions, labels = np.full((len(map_files) * channels, 2), np.nan), [""] * (len(map_files) * channels)
    for implant, path in enumerate(map_files):
        lines = [line.split() for line in path.read_text().splitlines() if line and not line.startswith("//")]
        for col, row, bank, elec, label in lines[1:]:  # lines[0]: the description line
            channel = implant * channels + "ABCDEFGH".index(bank) * 32 + int(elec) - 1
            positions[channel] = (int(col) * 400, int(row) * 400)
            labels[channel] = label
    return positions, labels


def assert_cmp_positions(nwb_path: Path, truth) -> None:
    electrodes = read_nwb(nwb_path).electrodes
    positions, labels = expected_rows(truth.array_map_files, truth.config.channels_per_array)
    assert not np.isnan(positions).any() and len(electrodes) == len(positions) == 128
    np.testing.assert_array_equal(electrodes["rel_x"][:], positions[:, 0])
    np.testing.assert_array_equal(electrodes["rel_y"][:], positions[:, 1])
    np.testing.assert_array_equal(electrodes["rel_z"][:], np.zeros(128))
    assert list(electrodes["label"][:]) == labels


def test_convert_writes_the_cmp_positions_and_labels(cmp_session, tmp_path):
    rdb_path, truth = cmp_session
    result = run("convert", str(rdb_path), "-o", str(tmp_path / "s.nwb"))
    assert result.returncode == 0, result.stderr
    assert "array map" not in result.stderr
    assert_cmp_positions(tmp_path / "s.nwb", truth)


def test_run_yaml_writes_the_cmp_positions(cmp_session, tmp_path):
    rdb_path, truth = cmp_session
    spec = write_spec(tmp_path, "maps", {"cmp": rdb_path})
    result = run("run-yaml", str(spec), "--output-folder-path", str(tmp_path / "out"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert_cmp_positions(tmp_path / "out" / "cmp.nwb", truth)


def validate(truth) -> subprocess.CompletedProcess:
    return run("validate", "--participant", str(truth.participant_file), "--devices", str(truth.devices_file))


def test_without_the_maps_convert_warns_once_per_implant_and_validate_reports_both(tmp_path):
    rdb_path, truth = saved_cmp_session(tmp_path)
    valid = validate(truth)
    assert valid.returncode == 0 and valid.stdout.splitlines() == [
        f"ok: {truth.participant_file}",
        f"ok: {truth.devices_file}",
    ]
    for path in truth.array_map_files:
        shutil.move(path, path.with_suffix(".cmp.bak"))

    result = run("convert", str(rdb_path), "-o", str(tmp_path / "s.nwb"))
    assert result.returncode == 0, result.stderr
    warned = [line for line in result.stderr.splitlines() if "UserWarning: array map" in line]
    assert [line.split("UserWarning: ")[1].split(";")[0] for line in warned] == [
        f"array map {path} (implant 'array {k}') does not exist"
        for k, path in enumerate(truth.array_map_files, 1)
    ]
    electrodes = read_nwb(tmp_path / "s.nwb").electrodes
    assert len(electrodes) == 128 and not {"rel_x", "rel_y", "rel_z", "label"} & set(electrodes.colnames)

    invalid = validate(truth)
    assert invalid.returncode == 2
    problems = [line for line in invalid.stdout.splitlines() if line.startswith("array map")]
    assert [line.split(";")[0] for line in problems] == [
        f"array map {path} (implant 'array {k}') does not exist"
        for k, path in enumerate(truth.array_map_files, 1)
    ]
    assert invalid.stdout.splitlines()[-1] == f"ok: {truth.devices_file}"
