"""Raw series written from the spool: uncompressed chunks copied into place, compressed chunks read whole.

The session has 96 channels (a last chunk column 32 channels wide) and small chunks (several chunk rows, the
last one partial), read by two workers (chunks whose rows lie in both workers' spool files).
"""

from __future__ import annotations

import errno
import itertools
import os
import shutil
import warnings
import zlib

import h5py
import hdf5plugin  # noqa: F401  (the Blosc filter, to read the fast preset back)
import numpy as np
import pytest
from h5py import h5d
from neuroconv.tools.nwb_helpers import configure_and_write_nwbfile, get_default_backend_configuration
from neuroconv.tools.spikeinterface.spikeinterfacerecordingdatachunkiterator import (
    SpikeInterfaceRecordingDataChunkIterator,
)
from numcodecs import Blosc

from neuroconv_brand import BrandConverter
from neuroconv_brand.interfaces.recording import BrandRecordingInterface
from neuroconv_brand.nwb import spooled_chunks
from neuroconv_brand.nwb.compression_presets import apply_compression_preset
from neuroconv_brand.nwb.output_files import write_nwbfile
from neuroconv_brand.nwb.spooled_chunks import spooled_series
from neuroconv_brand.testing import SessionConfig, save_session_rdb

RAW = "acquisition/nsp_neural_samples/data"
FEATURES = ("acquisition/sbp_samples/data", "acquisition/binned_spikes_samples/data")
CHUNKS = (12000, 64)  # 3 s at 30 kHz: 90,000 rows, 7 full chunk rows and one of 6,000


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    folder = tmp_path_factory.mktemp("spooled_chunks")
    config = SessionConfig(duration_s=3.0, raw=True, seed=23, n_arrays=1, channels_per_array=96)
    truth = save_session_rdb(config, folder / "raw.rdb", folder)
    samples = truth.streams["nsp_neural"].fields["samples"]
    return folder, samples.reshape(-1, samples.shape[-1])


def convert(session, name: str, preset: str, chunks=CHUNKS, writer=write_nwbfile, workers: int = 2):
    """The raw stream alone, with ``chunks`` and a preset; the file and the interface (its spool).

    Each conversion reads its own copy of the session: the spool of an open session's raw stream serves one
    conversion (its rows leave the spool once written; another conversion would decode them again).
    """
    folder, _ = session
    source = folder / f"{name}.rdb"
    shutil.copyfile(folder / "raw.rdb", source)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # no participant file
        interface = BrandRecordingInterface(file_path=source, stream_name="nsp_neural", read_workers=workers)
        nwbfile = interface.create_nwbfile()
    configuration = get_default_backend_configuration(nwbfile, backend="hdf5")
    apply_compression_preset(configuration, preset)
    raw = configuration.dataset_configurations[RAW]
    raw.buffer_shape = (raw.full_shape[0], raw.full_shape[1])
    raw.chunk_shape = chunks
    path = folder / name
    if writer is write_nwbfile:
        write_nwbfile(nwbfile, path, backend_configuration=configuration, overwrite=True, write_threads=2)
    else:
        writer(nwbfile, nwbfile_path=path, backend_configuration=configuration)
    return path, interface


def spool_of(interface):
    rows, first_row = interface.brand_recording._recording_segments[0].spooled_rows()
    return rows, first_row


def assert_same_chunks(ours, theirs, decode=bytes):
    with h5py.File(ours, "r") as file, h5py.File(theirs, "r") as reference:
        dataset, expected = file[RAW], reference[RAW]
        assert dataset.chunks == expected.chunks
        offsets = list(itertools.product(*map(range, (0, 0), dataset.shape, dataset.chunks)))
        assert len(offsets) == dataset.id.get_num_chunks() == expected.id.get_num_chunks()
        for offset in offsets:
            (mask, stored), (expected_mask, expected_stored) = (
                item.id.read_direct_chunk(offset) for item in (dataset, expected)
            )
            assert mask == expected_mask, offset
            assert decode(stored) == decode(expected_stored), offset


@pytest.fixture(scope="module")
def h5py_written(session):
    return {
        preset: convert(session, f"{preset}_h5py.nwb", preset, writer=configure_and_write_nwbfile)[0]
        for preset in ("none", "default")
    }


@pytest.mark.parametrize("workers", [1, 2])
def test_uncompressed_chunks_are_copied_into_place_from_the_spool(
    session, h5py_written, workers, monkeypatch
):
    copies = []
    kernel_copy = os.copy_file_range

    def counted(*args):
        copies.append(args[2])
        return kernel_copy(*args)

    monkeypatch.setattr(os, "copy_file_range", counted)
    path, interface = convert(session, f"none_{workers}.nwb", "none", workers=workers)
    _, truth = session
    with h5py.File(path, "r") as file:
        dataset = file[RAW]
        np.testing.assert_array_equal(dataset[:], truth)
        assert dataset.chunks == CHUNKS and dataset.compression is None
        assert dataset.id.get_create_plist().get_alloc_time() == h5d.ALLOC_TIME_EARLY
    # Every row of the 96 channels' first group went through the kernel copy (the 32-channel group is padded).
    assert sum(copies) >= truth.shape[0] * 64 * 2
    assert_same_chunks(path, h5py_written["none"])  # edge chunks zero-padded as h5py pads them
    rows, _ = spool_of(interface)
    assert rows.released_rows == rows.rows == truth.shape[0]  # the spool gave every row back


@pytest.mark.parametrize("kernel", ["refused", "absent"])
def test_without_a_kernel_copy_the_rows_go_through_memory(session, h5py_written, kernel, monkeypatch):
    """Files the kernel cannot copy between (another file system), or a system without ``copy_file_range``."""

    def refused(*args):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    if kernel == "refused":
        monkeypatch.setattr(os, "copy_file_range", refused)
    else:
        monkeypatch.delattr(os, "copy_file_range")
    path, _ = convert(session, f"none_{kernel}_kernel_copy.nwb", "none")
    with h5py.File(path, "r") as file:
        np.testing.assert_array_equal(file[RAW][:], session[1])
    assert_same_chunks(path, h5py_written["none"])


@pytest.mark.parametrize("preset", ["default", "fast"])
def test_compressed_chunks_are_read_whole_from_the_spool(session, h5py_written, preset, monkeypatch):
    monkeypatch.setenv("BLOSC_NTHREADS", "1")
    read = []
    read_and_encode = spooled_chunks._read_and_encode

    def counted(rows, start, count, first, stop, buffer, encoder):
        read.append((start, count, first, stop))
        return read_and_encode(rows, start, count, first, stop, buffer, encoder)

    monkeypatch.setattr(spooled_chunks, "_read_and_encode", counted)
    path, _ = convert(session, f"{preset}.nwb", preset)
    _, truth = session
    with h5py.File(path, "r") as file:
        np.testing.assert_array_equal(file[RAW][:], truth)
    starts = range(0, truth.shape[0], CHUNKS[0])
    assert sorted(read) == sorted(
        (start, min(CHUNKS[0], truth.shape[0] - start), first, stop)
        for start in starts
        for first, stop in ((0, 64), (64, 96))
    )
    if preset == "default":
        assert_same_chunks(path, h5py_written["default"], zlib.decompress)
    else:
        theirs = convert(session, "fast_h5py.nwb", preset, writer=configure_and_write_nwbfile)[0]
        assert_same_chunks(path, theirs, Blosc().decode)


def test_chunks_across_the_spooled_groups_are_written_from_the_iterator(session, monkeypatch):
    results = []
    write = spooled_chunks.write_spooled_chunks

    def recorded(*args):
        results.append(write(*args))
        return results[-1]

    monkeypatch.setattr("neuroconv_brand.nwb.direct_chunks.write_spooled_chunks", recorded)
    path, _ = convert(session, "narrow_chunks.nwb", "none", chunks=(12000, 32))
    assert results == [False]
    with h5py.File(path, "r") as file:
        assert file[RAW].chunks == (12000, 32)
        np.testing.assert_array_equal(file[RAW][:], session[1])


def test_only_the_stream_s_own_unscaled_samples_are_served_from_the_spool(session):
    folder, _ = session
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        recording = BrandRecordingInterface(
            file_path=folder / "raw.rdb", stream_name="nsp_neural"
        ).brand_recording
    series = spooled_series(SpikeInterfaceRecordingDataChunkIterator(recording))
    assert series is not None and series.shape == (recording.get_num_samples(0), 96) and series.first_row == 0
    assert (
        spooled_series(SpikeInterfaceRecordingDataChunkIterator(recording, return_in_uV=True)) is None
    )  # float32
    subset = recording.select_channels(recording.get_channel_ids()[:10])
    assert spooled_series(SpikeInterfaceRecordingDataChunkIterator(subset)) is None
    assert spooled_series(object()) is None


def test_processed_streams_are_copied_from_their_spool_and_keep_it(session, monkeypatch):
    """The feature streams' keys are spooled whole rows and chunked every channel wide: each chunk one range."""
    folder, _ = session
    copied = []
    kernel_copy = os.copy_file_range

    def counted(*args):
        copied.append(args[2])
        return kernel_copy(*args)

    def convert_features(name, writer):
        source = folder / f"{name}.rdb"
        shutil.copyfile(folder / "raw.rdb", source)
        converter = BrandConverter(file_path=source)
        nwbfile = converter.create_nwbfile(metadata=converter.get_metadata())
        configuration = get_default_backend_configuration(nwbfile, backend="hdf5")
        apply_compression_preset(configuration, "none")
        path = folder / name
        if writer is write_nwbfile:
            write_nwbfile(nwbfile, path, backend_configuration=configuration, overwrite=True)
        else:
            writer(nwbfile, nwbfile_path=path, backend_configuration=configuration)
        return path, converter

    theirs, _ = convert_features("features_h5py.nwb", configure_and_write_nwbfile)
    monkeypatch.setattr(os, "copy_file_range", counted)
    ours, converter = convert_features("features.nwb", write_nwbfile)
    with h5py.File(ours, "r") as file, h5py.File(theirs, "r") as reference:
        for location in FEATURES:
            assert file[location].chunks[1] == file[location].shape[1]
            assert file[location][:].tobytes() == reference[location][:].tobytes(), location
            assert file[location].id.get_create_plist().get_alloc_time() == h5d.ALLOC_TIME_EARLY
        feature_bytes = sum(file[location].nbytes for location in FEATURES)
    assert sum(copied) >= feature_bytes
    spooled = converter.data_interface_objects["sbp"].stream_pass.keys["samples"]
    assert spooled.read_all().nbytes == spooled.rows * spooled.row_bytes > 0  # still there for other readers
