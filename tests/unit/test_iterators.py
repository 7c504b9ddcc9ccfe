"""Chunk iterators: full-width shapes, and computed columns that survive NeuroConv's scan of table columns."""

from datetime import datetime, timezone

import numpy as np
import pytest
from hdmf.common import DynamicTable, VectorData
from neuroconv.tools.nwb_helpers import (
    configure_and_write_nwbfile,
    get_default_backend_configuration,
    get_module,
)
from pynwb import NWBFile, read_nwb

from neuroconv_brand.interfaces.iterators import (
    ComputedColumnIterator,
    IndexableColumnIterator,
    SpooledColumnIterator,
    full_width_shapes,
    row_ids,
)
from neuroconv_brand.reading.spool_files import SpooledArray


def test_full_width_shapes_span_every_channel_and_whole_chunks():
    chunk, buffer = full_width_shapes(
        num_rows=100_000, num_channels=256, itemsize=4, chunk_mb=1.0, buffer_gb=0.0035
    )
    assert chunk == (976, 256) and buffer == (976 * 3, 256)
    assert full_width_shapes(10, 3, 8, 10.0, 0.02) == ((10, 3), (10, 3))


def test_iterating_a_computed_column_leaves_it_whole():
    column = ComputedColumnIterator(10, np.float64, lambda a, b: np.arange(a, b) * 0.5, chunk_mb=24e-6)
    first_pass = np.concatenate([chunk.data for chunk in column])  # what NeuroConv's column scan does
    assert first_pass.tolist() == (np.arange(10) * 0.5).tolist()
    # The column itself still starts at the beginning (hdmf writes it with next()).
    assert next(column).data.tolist() == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5]


def test_a_computed_column_is_configured_and_written(tmp_path):
    values = np.linspace(0.0, 1.0, 5000)
    nwbfile = NWBFile("clocks", "computed-column", datetime(2024, 1, 1, tzinfo=timezone.utc))
    column = ComputedColumnIterator(len(values), np.float64, lambda a, b: values[a:b], chunk_mb=0.008)
    table = DynamicTable(
        name="t",
        description="d",
        id=np.arange(len(values)),
        columns=[VectorData(name="x", description="x", data=column)],
    )
    get_module(nwbfile, "m", "m").add(table)
    configuration = get_default_backend_configuration(nwbfile, backend="hdf5")
    (dataset,) = configuration.dataset_configurations.values()
    assert dataset.chunk_shape == (1000,)
    configure_and_write_nwbfile(nwbfile, nwbfile_path=tmp_path / "t.nwb", backend_configuration=configuration)
    np.testing.assert_array_equal(read_nwb(tmp_path / "t.nwb").processing["m"]["t"]["x"][:], values)


def test_indexable_columns_read_like_arrays():
    values = np.arange(100, dtype=np.int64) * 3
    column = IndexableColumnIterator(100, np.int64, lambda a, b: values[a:b], chunk_mb=0.0001)
    assert len(column) == 100
    assert column[0] == 0 and column[-1] == 297 and column[np.int64(5)] == 15
    assert column[10:13].tolist() == [30, 33, 36] and column[98:500].tolist() == [294, 297]
    assert column[::50].tolist() == [0, 150] and column[[1, 2]].tolist() == [3, 6]
    with pytest.raises(IndexError, match="out of range for a column of 100 values"):
        column[100]
    assert row_ids(4)[:].tolist() == [0, 1, 2, 3]


def test_a_spooled_column_is_read_from_its_file_and_written(tmp_path):
    spike_times = np.sort(np.random.default_rng(0).uniform(0, 600, 20_000))
    spooled = SpooledArray(tmp_path / "column.bin", np.float64)
    spooled.append(spike_times)
    spooled.detach()  # the path is gone; the open file is still read
    column = SpooledColumnIterator(spooled, chunk_mb=0.01)
    assert not (tmp_path / "column.bin").exists()
    assert column[7] == spike_times[7] and column[-3:].tolist() == spike_times[-3:].tolist()
    nwbfile = NWBFile("spikes", "spooled-column", datetime(2024, 1, 1, tzinfo=timezone.utc))
    table = DynamicTable(
        name="t",
        description="d",
        id=row_ids(len(spike_times)),
        columns=[VectorData(name="x", description="x", data=column)],
    )
    get_module(nwbfile, "m", "m").add(table)
    configuration = get_default_backend_configuration(nwbfile, backend="hdf5")
    configure_and_write_nwbfile(nwbfile, nwbfile_path=tmp_path / "t.nwb", backend_configuration=configuration)
    written = read_nwb(tmp_path / "t.nwb").processing["m"]["t"]
    np.testing.assert_array_equal(written["x"][:], spike_times)
    np.testing.assert_array_equal(written.id[:], np.arange(len(spike_times)))
