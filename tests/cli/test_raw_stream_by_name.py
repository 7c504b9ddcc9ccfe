"""A raw broadband stream chosen by name (``--stream``, ``streams=[...]``, YAML) is an ElectricalSeries."""

import numpy as np
import pytest
from pynwb import read_nwb
from pynwb.ecephys import ElectricalSeries

from neuroconv_brand.converter import BrandConverter
from neuroconv_brand.interfaces.recording import BrandRecordingInterface
from neuroconv_brand.testing import SessionConfig, save_session_rdb

from .test_convert_and_run_yaml import run


@pytest.fixture(scope="module")
def raw_session(tmp_path_factory):
    folder = tmp_path_factory.mktemp("raw_by_name")
    truth = save_session_rdb(SessionConfig(duration_s=1.0, raw=True, seed=6), folder / "raw.rdb", folder)
    return folder / "raw.rdb", truth


def assert_raw_series(path, truth) -> None:
    nwbfile = read_nwb(path)
    series = nwbfile.acquisition["nsp_neural_samples"]
    assert isinstance(series, ElectricalSeries)
    samples = truth.streams["nsp_neural"].fields["samples"]
    np.testing.assert_array_equal(series.data[:], samples.reshape(-1, samples.shape[-1]))
    assert series.rate == 30000.0 and series.timestamps is None
    np.testing.assert_array_equal(series.electrodes.data[:], np.arange(len(nwbfile.electrodes)))
    assert series.electrodes.table is nwbfile.electrodes and len(nwbfile.electrodes) == samples.shape[-1]


def test_streams_option_sends_a_raw_stream_to_the_recording_interface(raw_session, tmp_path):
    rdb_path, truth = raw_session
    converter = BrandConverter(file_path=rdb_path, streams=["nsp_neural", "sbp"])
    interfaces = converter.data_interface_objects
    assert list(interfaces) == ["Participant", "nsp_neural", "sbp", "sbp_ts"]
    assert isinstance(interfaces["nsp_neural"], BrandRecordingInterface)
    converter.run_conversion(nwbfile_path=tmp_path / "raw.nwb")
    assert_raw_series(tmp_path / "raw.nwb", truth)


def test_convert_stream_names_a_raw_stream(raw_session, tmp_path):
    rdb_path, truth = raw_session
    result = run("convert", str(rdb_path), "-o", str(tmp_path / "raw.nwb"), "--stream", "nsp_neural")
    assert result.returncode == 0, result.stderr
    assert "converted: Participant, nsp_neural" in result.stdout
    assert "entry-id time" not in result.stderr
    assert_raw_series(tmp_path / "raw.nwb", truth)


def test_run_yaml_streams_name_a_raw_stream(raw_session, tmp_path):
    rdb_path, truth = raw_session
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "data_interfaces: {brand: BrandConverter}\nexperiments:\n  raw:\n    sessions:\n"
        f"      - nwbfile_name: raw\n        source_data: {{brand: {{file_path: {rdb_path}, streams: [nsp_neural]}}}}\n"
    )
    result = run("run-yaml", str(spec), "--output-folder-path", str(tmp_path / "out"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert_raw_series(tmp_path / "out" / "raw.nwb", truth)


def test_convert_says_once_which_subject_fields_dandi_needs(raw_session, tmp_path):
    rdb_path, _ = raw_session
    result = run("convert", str(rdb_path), "-o", str(tmp_path / "a.nwb"), "--stream", "sbp")
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("note: DANDI") == 1
    assert (
        "note: DANDI requires the subject's species, sex, age, which BRAND's files do not hold; to upload this file, "
        "convert again with --metadata FILE, a YAML file with:\nSubject:\n  species: Homo sapiens\n"
        "  sex: M  # M, F, U or O\n  age: P45Y  # ISO 8601 duration (or give date_of_birth)\n"
    ) in result.stderr
    metadata = tmp_path / "subject.yaml"
    metadata.write_text("Subject:\n  species: Homo sapiens\n  sex: M\n  age: P45Y\n")
    complete = run(
        "convert",
        str(rdb_path),
        "-o",
        str(tmp_path / "b.nwb"),
        "--stream",
        "sbp",
        "--metadata",
        str(metadata),
    )
    assert complete.returncode == 0 and "DANDI" not in complete.stderr
