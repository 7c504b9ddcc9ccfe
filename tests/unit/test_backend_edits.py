"""Per-dataset edits of NeuroConv's backend configuration (``apply_dataset_edits``), written with real h5py."""

from datetime import datetime, timezone

import h5py
import numpy as np
import pytest
from neuroconv.tools.nwb_helpers import configure_and_write_nwbfile, get_default_backend_configuration
from pynwb import NWBFile, TimeSeries

from neuroconv_brand.nwb.backend_edits import apply_dataset_edits

LOCATION = "acquisition/sbp/data"


def small_file() -> NWBFile:
    nwbfile = NWBFile("edits", "edits", datetime(2024, 1, 1, tzinfo=timezone.utc))
    data = np.arange(4000 * 8, dtype=np.float32).reshape(4000, 8)
    nwbfile.add_acquisition(TimeSeries(name="sbp", data=data, unit="a.u.", rate=1000.0))
    return nwbfile


def edit_and_write(tmp_path, *edits: dict) -> h5py.Dataset:
    nwbfile = small_file()
    configuration = get_default_backend_configuration(nwbfile, backend="hdf5")
    for edit in edits:
        assert apply_dataset_edits(configuration, {LOCATION: edit}, {}, "hdf5") == []
    path = tmp_path / "edited.nwb"
    configure_and_write_nwbfile(nwbfile, nwbfile_path=path, backend_configuration=configuration)
    file = h5py.File(path, "r")
    return file[LOCATION]


def test_chunks_and_gzip_level_land_on_disk(tmp_path):
    data = edit_and_write(
        tmp_path, {"chunk_shape": [1000, 8], "compressors": ["gzip"], "compressor_options": [{"level": 9}]}
    )
    assert (data.chunks, data.compression, data.compression_opts) == ((1000, 8), "gzip", 9)
    np.testing.assert_array_equal(data[2], np.arange(16, 24, dtype=np.float32))


def test_new_compressors_drop_the_old_codecs_options(tmp_path):
    # gzip level 9 first, then Zstd alone: {"level": 9} is not a Zstd option, so it must not be carried over.
    data = edit_and_write(tmp_path, {"compressor_options": [{"level": 9}]}, {"compressors": ["Zstd"]})
    assert data.id.get_create_plist().get_filter(0)[0] == 32015  # the HDF5 filter id of Zstd
    np.testing.assert_array_equal(data[-1], np.arange(3999 * 8, 4000 * 8, dtype=np.float32))


def test_no_compression(tmp_path):
    data = edit_and_write(tmp_path, {"compressor_options": [{"level": 9}]}, {"compressors": None})
    assert data.compression is None and data.id.get_create_plist().get_nfilters() == 0


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        ({"chunk_shape": [10]}, "has 1 dimension(s); the dataset acquisition/sbp/data has shape [4000, 8]"),
        ({"filters": ["shuffle"]}, "cannot be set with the hdf5 backend"),
        ({"chunk_shape": [9000, 8]}, "NeuroConv rejects these settings for acquisition/sbp/data"),
    ],
)
def test_bad_edits_are_reported_with_the_fix(edit, expected):
    configuration = get_default_backend_configuration(small_file(), backend="hdf5")
    before = configuration.dataset_configurations[LOCATION]
    problems = apply_dataset_edits(configuration, {LOCATION: edit}, {LOCATION: "backend.yaml"}, "hdf5")
    assert len(problems) == 1 and expected in problems[0] and problems[0].startswith("backend.yaml")
    assert "Fix:" in problems[0]
    assert configuration.dataset_configurations[LOCATION] is before


def test_unknown_location_lists_the_datasets():
    configuration = get_default_backend_configuration(small_file(), backend="hdf5")
    (problem,) = apply_dataset_edits(
        configuration, {"acquisition/nope/data": {"compressors": None}}, {}, "hdf5"
    )
    assert f"'acquisition/nope/data' is not a dataset of this file. Fix: use one of ['{LOCATION}']" in problem
