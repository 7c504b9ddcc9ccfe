"""BrandStreamTimestampsInterface: every clock of a stream's entries, in seconds, against the generator's truth."""

import numpy as np
import pytest
from neuroconv.tools.testing.data_interface_mixins import DataInterfaceTestMixin, TemporalAlignmentMixin
from nwbinspector import Importance, inspect_nwbfile, load_config
from pynwb import read_nwb
from pynwb.testing.mock.file import mock_NWBFile

from neuroconv_brand.interfaces.stream_timestamps import BrandStreamTimestampsInterface

COLUMNS = ("session_time", "redis_time", "redis_seq", "monotonic_time", "monotonic_clock", "sync_nsp_idx_1")


def clock_table(nwbfile, stream):
    return nwbfile.processing["brand_timestamps"][f"{stream}_ts"]


def written_clock_table(interface, folder, **conversion_options):
    """The interface's table as written to a file and read back (its columns are computed while writing)."""
    path = folder / f"{interface.spec.name}_clocks.nwb"
    interface.run_conversion(nwbfile_path=path, overwrite=True, **conversion_options)
    return clock_table(read_nwb(path), interface.spec.name)


class TestStreamTimestampsInterfaceMixins(DataInterfaceTestMixin, TemporalAlignmentMixin):
    data_interface_cls = BrandStreamTimestampsInterface
    interface_kwargs = {}

    @pytest.fixture
    def setup_interface(self, request, clean_session):
        self.test_name = ""
        self.truth = clean_session.truth
        self.interface_kwargs = dict(file_path=str(clean_session.rdb_path), stream_name="binned_spikes")
        self.interface = self.data_interface_cls(**self.interface_kwargs)
        return self.interface, self.test_name

    def check_read_nwb(self, nwbfile_path: str):
        table = clock_table(read_nwb(nwbfile_path), "binned_spikes")
        assert table.colnames == COLUMNS
        ids = self.truth.streams["binned_spikes"].ids
        np.testing.assert_array_equal(table["redis_seq"][:], ids[:, 1])


def test_every_clock_in_seconds_exportnwb_bug_9(hazard_session, tmp_path):
    # exportNWB's <stream>_ts mixed the monotonic clock in ns with other columns in s under one unit "seconds".
    truth = hazard_session.truth.streams["cursorData"]
    interface = BrandStreamTimestampsInterface(
        file_path=str(hazard_session.rdb_path), stream_name="cursorData"
    )
    path = tmp_path / "clocks.nwb"
    interface.run_conversion(nwbfile_path=path, overwrite=True)
    table = clock_table(read_nwb(path), "cursorData")
    assert table.colnames == (*COLUMNS, "sync_decoder_idx")
    start_ms = interface.session_start_ms
    redis_s = (truth.ids[:, 0].astype(np.int64) - start_ms) / 1000.0
    np.testing.assert_array_equal(table["redis_time"][:], redis_s)
    np.testing.assert_array_equal(table["redis_seq"][:], truth.ids[:, 1])
    np.testing.assert_array_equal(table["monotonic_clock"][:], truth.ts_ns / 1e9)
    mapped = table["monotonic_time"][:]
    steps = truth.ts_ns.astype(np.int64) / 1e9
    np.testing.assert_allclose(mapped - steps, np.median(redis_s - steps), atol=1e-9)  # one offset, seconds
    assert np.abs(mapped - redis_s).max() < 1e-3
    np.testing.assert_array_equal(table["session_time"][:], interface.get_timestamps())


def test_empty_sync_and_labels_not_in_the_graph_exportnwb_bug_6(hazard_session, tmp_path):
    # exportNWB raised KeyError on an empty {} sync and on a label missing from the graph's sync list.
    truth = hazard_session.truth
    stream = truth.streams["cursorData"]
    n_empty = truth.hazards.empty_sync["cursorData"]
    assert truth.hazards.extra_sync_labels["cursorData"] == ("decoder_idx",)
    interface = BrandStreamTimestampsInterface(
        file_path=str(hazard_session.rdb_path), stream_name="cursorData"
    )
    table = written_clock_table(interface, tmp_path)
    for label in ("nsp_idx_1", "decoder_idx"):
        column = table[f"sync_{label}"][:]
        assert np.isnan(column[:n_empty]).all()
        np.testing.assert_array_equal(column[n_empty:], stream.sync[label][n_empty:] / 1000.0)
    assert "not in the graph's sync list: default sync rate" in table["sync_decoder_idx"].description
    assert "not in the graph" not in table["sync_nsp_idx_1"].description


def test_same_millisecond_entries_are_told_apart_by_the_sequence(hazard_session, tmp_path):
    truth = hazard_session.truth.streams["thresh_cross"]
    interface = BrandStreamTimestampsInterface(
        file_path=str(hazard_session.rdb_path), stream_name="thresh_cross"
    )
    table = written_clock_table(interface, tmp_path)
    seq = table["redis_seq"][:]
    assert seq.max() == 2 and (seq == 2).sum() == len(hazard_session.truth.hazards.same_ms_bursts)
    np.testing.assert_array_equal(seq, truth.ids[:, 1])
    burst = np.flatnonzero(seq == 2)[0]
    assert len(set(table["redis_time"][burst - 2 : burst + 1])) == 1
    assert np.all(np.diff(table["sync_nsp_idx_1"][burst - 2 : burst + 1]) > 0)


def test_session_time_follows_alignment_and_the_source_clocks_do_not(clean_session):
    interface = BrandStreamTimestampsInterface(
        file_path=str(clean_session.rdb_path), stream_name="binned_spikes"
    )
    before = interface.clock_columns()
    interface.set_aligned_starting_time(2.5)
    after = interface.clock_columns()
    np.testing.assert_array_equal(after["session_time"][0], before["session_time"][0] + 2.5)
    np.testing.assert_array_equal(after["redis_time"][0], before["redis_time"][0])


def test_stub_keeps_the_first_entries(clean_session, tmp_path):
    interface = BrandStreamTimestampsInterface(file_path=str(clean_session.rdb_path), stream_name="sbp")
    table = written_clock_table(interface, tmp_path, stub_test=True)
    assert len(table) == 1000
    np.testing.assert_array_equal(table["redis_seq"][:], clean_session.truth.streams["sbp"].ids[:1000, 1])


def test_one_module_holds_every_stream(clean_session):
    nwbfile = mock_NWBFile()
    for stream in ("state", "cursorData"):
        BrandStreamTimestampsInterface(
            file_path=str(clean_session.rdb_path), stream_name=stream
        ).add_to_nwbfile(nwbfile)
    assert sorted(nwbfile.processing["brand_timestamps"].data_interfaces) == ["cursorData_ts", "state_ts"]


def test_nwbinspector_finds_nothing_serious(hazard_session, tmp_path):
    interface = BrandStreamTimestampsInterface(
        file_path=str(hazard_session.rdb_path), stream_name="cursorData"
    )
    metadata = interface.get_metadata()
    metadata["Subject"] = dict(subject_id="t0", species="Homo sapiens", sex="M", age="P40Y")
    path = tmp_path / "inspect.nwb"
    interface.run_conversion(nwbfile_path=path, metadata=metadata, overwrite=True)
    messages = list(
        inspect_nwbfile(
            path, config=load_config("dandi"), importance_threshold=Importance.BEST_PRACTICE_VIOLATION
        )
    )
    assert messages == []
