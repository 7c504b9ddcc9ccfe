"""Conversions written with direct chunk writes (no filter, gzip, Blosc): the files h5py's own write gives."""

from __future__ import annotations

import itertools
import subprocess
import zlib

import h5py
import hdf5plugin  # the Blosc filter too, to read the fast preset's data back
import numpy as np
import pytest
from neuroconv.tools.nwb_helpers import configure_and_write_nwbfile, get_default_backend_configuration
from numcodecs import Blosc
from nwbinspector import Importance, inspect_nwbfile, load_config
from pynwb import read_nwb

from neuroconv_brand import BrandConverter
from neuroconv_brand.nwb.compression_presets import apply_compression_preset
from neuroconv_brand.nwb.direct_chunks import defer_chunked_datasets
from neuroconv_brand.nwb.output_files import write_nwbfile
from neuroconv_brand.testing import SessionConfig, save_session_rdb

SUBJECT = {"species": "Homo sapiens", "sex": "M", "age": "P45Y"}
RAW = "acquisition/nsp_neural_samples/data"
FEATURES = ("acquisition/sbp_samples/data", "acquisition/binned_spikes_samples/data")


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gzip_threads")
    truth = save_session_rdb(SessionConfig(duration_s=1.5, raw=True, seed=11), folder / "raw.rdb", folder)
    return folder, truth


def write(
    session,
    name: str,
    preset: str,
    level: int | None = None,
    threads: int | None = None,
    writer=write_nwbfile,
):
    """Convert with raw data and a compression preset; the file and its configured chunk shapes and compressors.

    ``writer`` is ours, or NeuroConv's ``configure_and_write_nwbfile`` (h5py writes every dataset itself).
    """
    folder, _ = session
    converter = BrandConverter(file_path=folder / "raw.rdb", include_raw=True)
    metadata = converter.get_metadata()
    metadata["Subject"].update(SUBJECT)
    nwbfile = converter.create_nwbfile(metadata=metadata)
    configuration = get_default_backend_configuration(nwbfile, backend="hdf5")
    apply_compression_preset(configuration, preset, level=level)
    configured = {
        location: (tuple(dataset.chunk_shape), dataset.compressors)
        for location, dataset in configuration.dataset_configurations.items()
    }
    path = folder / name
    if writer is write_nwbfile:
        write_nwbfile(
            nwbfile, path, backend_configuration=configuration, overwrite=True, write_threads=threads
        )
    else:
        writer(nwbfile, nwbfile_path=path, backend_configuration=configuration)
    return path, configured


@pytest.fixture(scope="module")
def uncompressed(session):
    return write(session, "none.nwb", "none")[0]


@pytest.fixture(scope="module")
def gzipped(session):
    return write(session, "gzip.nwb", "default", threads=3)


def numeric_datasets(path) -> dict[str, np.ndarray]:
    found = {}
    with h5py.File(path, "r") as file:

        def visit(name, item):
            if isinstance(item, h5py.Dataset) and item.dtype.kind in "biuf" and item.shape:
                found[name] = item[()]

        file.visititems(visit)
    return found


def inspection(path) -> set[tuple[str, str]]:
    """nwbinspector's findings (DANDI configuration, best-practice violations and worse): check and location."""
    messages = inspect_nwbfile(
        path, config=load_config("dandi"), importance_threshold=Importance.BEST_PRACTICE_VIOLATION
    )
    return {(message.check_function_name, message.location) for message in messages}


@pytest.mark.parametrize(
    ("preset", "compressors"), [("default", ["gzip"]), ("fast", ["Blosc"]), ("none", None)]
)
def test_raw_and_feature_streams_take_the_direct_path(session, preset, compressors):
    folder, _ = session
    converter = BrandConverter(file_path=folder / "raw.rdb", include_raw=True)
    nwbfile = converter.create_nwbfile()
    configuration = get_default_backend_configuration(nwbfile, backend="hdf5")
    apply_compression_preset(configuration, preset)
    remaining, deferred = defer_chunked_datasets(nwbfile, configuration)
    locations = {item.location_in_file for item in deferred}
    assert {RAW, *FEATURES} <= locations
    assert not locations & set(remaining.dataset_configurations)
    # Only the pipelines written directly; with ``default`` the timestamps (shuffle, then gzip) keep h5py's write.
    assert all(
        (configuration.dataset_configurations[location].compressors or None) == compressors
        for location in locations
    )


def test_decompressed_data_equal_the_uncompressed_conversion(uncompressed, gzipped):
    plain, compressed = numeric_datasets(uncompressed), numeric_datasets(gzipped[0])
    assert plain.keys() == compressed.keys()
    assert {RAW, *FEATURES} <= plain.keys()
    for name, values in plain.items():
        assert compressed[name].dtype == values.dtype, name
        assert compressed[name].tobytes() == values.tobytes(), name


@pytest.mark.filterwarnings("ignore:32001 compression may not be available")
@pytest.mark.parametrize("preset", ["default", "fast", "none"])
def test_a_conversion_is_the_file_h5py_writes_itself(session, preset, monkeypatch):
    # One Blosc thread in HDF5's filter, whose chunks then are the very bytes numcodecs gives.
    monkeypatch.setenv("BLOSC_NTHREADS", "1")
    ours, configured = write(session, f"{preset}.nwb", preset, threads=2)
    theirs, _ = write(session, f"{preset}_h5py.nwb", preset, writer=configure_and_write_nwbfile)
    _, truth = session
    samples = truth.streams["nsp_neural"].fields["samples"]
    written = read_nwb(ours).acquisition["nsp_neural_samples"].data[:]
    np.testing.assert_array_equal(written, samples.reshape(-1, samples.shape[-1]))
    ours_data, theirs_data = numeric_datasets(ours), numeric_datasets(theirs)
    assert ours_data.keys() == theirs_data.keys()
    for name, values in theirs_data.items():
        assert ours_data[name].tobytes() == values.tobytes(), name
    decode = {"default": zlib.decompress, "fast": Blosc().decode, "none": bytes}[preset]
    with h5py.File(ours, "r") as file, h5py.File(theirs, "r") as reference:
        for location in (RAW, *FEATURES):
            dataset, expected = file[location], reference[location]
            assert dataset.chunks == expected.chunks == configured[location][0]
            assert dataset._filters == expected._filters
            assert (dataset.compression, dataset.shuffle) == (expected.compression, False)
            offsets = list(itertools.product(*map(range, (0, 0), dataset.shape, dataset.chunks)))
            assert len(offsets) == dataset.id.get_num_chunks()
            for offset in offsets:
                (mask, stored), (expected_mask, expected_stored) = (
                    item.id.read_direct_chunk(offset) for item in (dataset, expected)
                )
                assert mask == expected_mask == 0, (location, offset)
                assert decode(stored) == decode(expected_stored), (location, offset)
                # Blosc: the very bytes the HDF5 filter stores (zlib's may differ between zlib builds).
                assert preset == "default" or stored == expected_stored, (location, offset)
        if preset == "fast":
            assert file[RAW]._filters[str(hdf5plugin.BLOSC_ID)][-3:] == (5, 2, 1)  # level 5, bit shuffle, LZ4
        else:
            assert file[RAW]._filters == ({"gzip": 4} if preset == "default" else {})


def test_gzip_datasets_carry_the_configured_level_and_chunks(gzipped):
    path, configured = gzipped
    with h5py.File(path, "r") as file:
        for location in (RAW, *FEATURES):
            chunks, compressors = configured[location]
            dataset = file[location]
            assert compressors == ["gzip"]
            assert (dataset.compression, dataset.compression_opts, dataset.chunks) == ("gzip", 4, chunks)
            assert dataset._filters == {"gzip": 4}  # deflate (filter 1) alone: any HDF5 reader opens it


def test_a_chosen_level_is_the_level_written(session, uncompressed):
    path, _ = write(session, "gzip9.nwb", "default", level=9, threads=2)
    with h5py.File(path, "r") as file, h5py.File(uncompressed, "r") as plain:
        assert file[RAW].compression_opts == 9
        assert file[RAW][()].tobytes() == plain[RAW][()].tobytes()


def test_pynwb_reads_it_and_nwbinspector_passes(session, gzipped, uncompressed):
    _, truth = session
    nwbfile = read_nwb(gzipped[0])
    samples = truth.streams["nsp_neural"].fields["samples"]
    np.testing.assert_array_equal(
        nwbfile.acquisition["nsp_neural_samples"].data[:], samples.reshape(-1, samples.shape[-1])
    )
    # The same findings as for the uncompressed file (a 1.5 s session is shorter than it is wide: orientation).
    assert inspection(gzipped[0]) == inspection(uncompressed)
    assert {check for check, _ in inspection(gzipped[0])} <= {"check_data_orientation"}


def test_write_threads_on_the_command_line(session, uncompressed, tmp_path):
    folder, _ = session
    output = tmp_path / "cli.nwb"
    result = subprocess.run(
        [
            "neuroconv-brand",
            "convert",
            str(folder / "raw.rdb"),
            "-o",
            str(output),
            "--include-raw",
            "--write-threads",
            "2",
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    with h5py.File(output, "r") as file, h5py.File(uncompressed, "r") as plain:
        assert file[RAW].compression == "gzip"
        assert file[RAW][()].tobytes() == plain[RAW][()].tobytes()
    refused = subprocess.run(
        ["neuroconv-brand", "convert", str(folder / "raw.rdb"), "-o", str(output), "--write-threads", "0"],
        capture_output=True,
        text=True,
    )
    assert refused.returncode == 2
    assert "argument --write-threads: expected a whole number of at least 1, not '0'" in refused.stderr


def test_run_conversion_writes_gzip_on_threads_too(session, uncompressed, tmp_path):
    from neuroconv.tools.nwb_helpers import make_nwbfile_from_metadata

    from neuroconv_brand.nwb.direct_chunks import DeferredChunks

    folder, _ = session
    converter = BrandConverter(file_path=folder / "raw.rdb", include_raw=True)
    metadata = converter.get_metadata()
    nwbfile = make_nwbfile_from_metadata(metadata)
    path = tmp_path / "run_conversion.nwb"
    converter.run_conversion(nwbfile_path=path, nwbfile=nwbfile, metadata=metadata)
    # NeuroConv's default configuration (gzip 4), written by the thread pool: pynwb only created the dataset.
    assert isinstance(nwbfile.acquisition["nsp_neural_samples"].data.data, DeferredChunks)
    with h5py.File(path, "r") as file, h5py.File(uncompressed, "r") as plain:
        assert (file[RAW].compression, file[RAW].compression_opts) == ("gzip", 4)
        assert file[RAW][()].tobytes() == plain[RAW][()].tobytes()
    assert [item.name for item in tmp_path.iterdir()] == ["run_conversion.nwb"]  # no temporary file left
