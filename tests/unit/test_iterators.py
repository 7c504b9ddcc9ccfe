"""Chunk iterators: full-width shapes, and computed columns that survive NeuroConv's scan of table columns."""

from datetime import datetime, timezone

import numpy as np
from hdmf.common import DynamicTable, VectorData
from neuroconv.tools.nwb_helpers import (
    configure_and_write_nwbfile,
    get_default_backend_configuration,
    get_module,
)
from pynwb import NWBFile, read_nwb

from neuroconv_brand.iterators import ComputedColumnIterator, full_width_shapes


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
