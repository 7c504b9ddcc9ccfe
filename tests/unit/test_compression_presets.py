"""Compression presets on real NeuroConv backend configurations, checked on the written HDF5 and Zarr files."""

import os

import h5py
import hdf5plugin
import numpy as np
import pytest
import zarr
from neuroconv.tools.nwb_helpers import configure_and_write_nwbfile, get_default_backend_configuration
from numcodecs import Blosc
from pynwb import TimeSeries, read_nwb
from pynwb.testing.mock.file import mock_NWBFile

from neuroconv_brand.nwb.compression_presets import (
    BLOSC_THREADS_VARIABLE,
    apply_compression_preset,
    compression_settings,
    set_blosc_threads,
)

DATA = "acquisition/big/data"
TIMESTAMPS = "acquisition/irregular/timestamps"
SMALL = "acquisition/small/data"


@pytest.fixture
def nwbfile():
    rng = np.random.default_rng(0)
    file = mock_NWBFile()
    big = rng.integers(-300, 300, size=(60_000, 16), dtype=np.int16)  # 1.9 MB
    file.add_acquisition(TimeSeries(name="big", data=big, unit="V", rate=30000.0))
    times = np.cumsum(rng.uniform(0.9e-3, 1.1e-3, 2000))
    file.add_acquisition(TimeSeries(name="irregular", data=np.arange(2000.0), unit="a.u.", timestamps=times))
    file.add_acquisition(TimeSeries(name="small", data=np.arange(10, dtype=np.int16), unit="a.u.", rate=1.0))
    file.add_trial_column(name="label", description="a text column")
    for start in range(3):
        file.add_trial(start_time=float(start), stop_time=start + 0.5, label=f"trial {start}")
    return file


@pytest.fixture(autouse=True)
def restore_blosc_threads():
    before = os.environ.get(BLOSC_THREADS_VARIABLE)
    yield
    if before is None:
        os.environ.pop(BLOSC_THREADS_VARIABLE, None)
    else:
        os.environ[BLOSC_THREADS_VARIABLE] = before


def test_settings_of_each_preset():
    assert compression_settings("default", "hdf5") == (["gzip"], [{"level": 4}])
    assert compression_settings("default", "zarr", "timestamps") == (
        ["shuffle", "gzip"],
        [None, {"level": 4}],
    )
    assert compression_settings("fast", "hdf5") == (["Blosc"], [{"cname": "lz4", "clevel": 5, "shuffle": 2}])
    assert compression_settings("fast", "zarr", codec="zstd", shuffle="byte") == (
        ["blosc"],
        [{"cname": "zstd", "clevel": 1, "shuffle": 1}],
    )
    assert compression_settings("fast", "hdf5", level=9)[1][0]["clevel"] == 9
    assert compression_settings("none", "hdf5") == (None, None)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (dict(preset="slow", backend="hdf5"), "unknown compression preset 'slow'"),
        (dict(preset="fast", backend="netcdf"), "backend must be 'hdf5' or 'zarr'"),
        (dict(preset="fast", backend="hdf5", codec="snappy"), "codec must be one of"),
        (dict(preset="fast", backend="hdf5", shuffle="word"), "shuffle must be one of"),
    ],
)
def test_unknown_choices_are_refused(arguments, message):
    with pytest.raises(ValueError, match=message):
        compression_settings(**arguments)


@pytest.mark.filterwarnings("ignore:32001 compression may not be available")
def test_fast_preset_on_hdf5_writes_blosc_and_reads_back(nwbfile, tmp_path):
    configuration = get_default_backend_configuration(nwbfile, backend="hdf5")
    apply_compression_preset(configuration, "fast", threads=2)
    datasets = configuration.dataset_configurations
    assert datasets[DATA].compressors == ["Blosc"]
    assert datasets[DATA].compressor_options == [{"cname": "lz4", "clevel": 5, "shuffle": 2}]
    assert datasets[TIMESTAMPS].compressors == ["Blosc"]
    # Text columns keep NeuroConv's gzip: the HDF5 Blosc filter cannot take variable-length strings.
    assert datasets["trials/label/data"].compressors == ["gzip"]
    assert os.environ[BLOSC_THREADS_VARIABLE] == "2"

    path = tmp_path / "fast.nwb"
    configure_and_write_nwbfile(nwbfile, nwbfile_path=path, backend_configuration=configuration)
    with h5py.File(path, "r") as file:
        dataset = file[DATA]
        assert str(hdf5plugin.BLOSC_ID) in dataset._filters
        values = dataset._filters[str(hdf5plugin.BLOSC_ID)]
        assert values[-3:] == (5, 2, 1)  # clevel, shuffle (bit), compressor code of lz4
        assert dataset.chunks == tuple(datasets[DATA].chunk_shape)
    written = read_nwb(path)
    np.testing.assert_array_equal(written.acquisition["big"].data[:], nwbfile.acquisition["big"].data)
    assert list(written.trials["label"][:]) == ["trial 0", "trial 1", "trial 2"]


def test_fast_preset_on_zarr_uses_the_numcodecs_blosc(nwbfile, tmp_path):
    configuration = get_default_backend_configuration(nwbfile, backend="zarr")
    apply_compression_preset(configuration, "fast", codec="zstd")
    path = tmp_path / "fast.nwb.zarr"
    configure_and_write_nwbfile(nwbfile, nwbfile_path=path, backend_configuration=configuration)
    array = zarr.open(str(path), mode="r")[DATA]
    assert array.compressor == Blosc(cname="zstd", clevel=1, shuffle=Blosc.BITSHUFFLE)
    np.testing.assert_array_equal(array[:], nwbfile.acquisition["big"].data)


def test_default_and_none_presets(nwbfile, tmp_path):
    configuration = get_default_backend_configuration(nwbfile, backend="hdf5")
    apply_compression_preset(configuration, "none")
    assert all(d.compressors is None for d in configuration.dataset_configurations.values())
    apply_compression_preset(configuration, "default")
    assert configuration.dataset_configurations[DATA].compressors == ["gzip"]
    assert configuration.dataset_configurations[TIMESTAMPS].compressors == ["shuffle", "gzip"]
    path = tmp_path / "default.nwb"
    configure_and_write_nwbfile(nwbfile, nwbfile_path=path, backend_configuration=configuration)
    with h5py.File(path, "r") as file:
        assert (file[DATA].compression, file[DATA].compression_opts) == ("gzip", 4)
        assert file[TIMESTAMPS].shuffle and file[TIMESTAMPS].compression == "gzip"


def test_only_large_datasets_change(nwbfile):
    configuration = get_default_backend_configuration(nwbfile, backend="hdf5")
    apply_compression_preset(configuration, "none", min_size_mb=1.0)
    datasets = configuration.dataset_configurations
    assert datasets[DATA].compressors is None  # 1.9 MB
    assert datasets[SMALL].compressors == ["gzip"]
    assert datasets[TIMESTAMPS].compressors == ["shuffle", "gzip"]  # 16 kB


def test_blosc_threads(monkeypatch):
    monkeypatch.setenv(BLOSC_THREADS_VARIABLE, "3")
    assert set_blosc_threads() == 3  # the user's setting wins over the CPU count
    assert set_blosc_threads(1) == 1 and os.environ[BLOSC_THREADS_VARIABLE] == "1"
    monkeypatch.delenv(BLOSC_THREADS_VARIABLE)
    assert set_blosc_threads() == os.cpu_count()
    with pytest.raises(ValueError, match="threads must be at least 1"):
        set_blosc_threads(0)


def test_parse_compression_accepts_presets_and_codecs_with_levels():
    from neuroconv_brand.nwb.compression_presets import parse_compression

    assert parse_compression("default") == ("default", "lz4", None)
    assert parse_compression("gzip:9") == ("default", "lz4", 9)
    assert parse_compression("zstd:3") == ("fast", "zstd", 3)
    assert parse_compression("LZ4") == ("fast", "lz4", None)
    assert parse_compression("none") == ("none", "lz4", None)
    for bad, message in (
        ("brotli", "unknown compression 'brotli'"),
        ("zstd:x", "the level must be an integer"),
    ):
        with pytest.raises(ValueError, match=message):
            parse_compression(bad)
