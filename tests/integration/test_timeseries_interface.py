"""BrandTimeSeriesInterface on synthetic sessions: values, times, NeuroConv's mixins, backends, nwbinspector."""

import numpy as np
import pytest
from neuroconv.tools.testing.data_interface_mixins import DataInterfaceTestMixin, TemporalAlignmentMixin
from nwbinspector import Importance, inspect_nwbfile, load_config
from pynwb import read_nwb

from neuroconv_brand.errors import GraphError
from neuroconv_brand.interfaces.timeseries import BrandTimeSeriesInterface
from neuroconv_brand.testing import expected_sync_times
from neuroconv_brand.timing.clocks import session_start_datetime


def enabled_start_ms(truth, graph):
    return min(int(truth.streams[name].ids[0, 0]) for name in graph.enabled_streams if name in truth.streams)


class TestTimeSeriesInterfaceMixins(DataInterfaceTestMixin, TemporalAlignmentMixin):
    data_interface_cls = BrandTimeSeriesInterface
    interface_kwargs = {}

    @pytest.fixture
    def setup_interface(self, request, clean_session):
        self.test_name = ""
        self.interface_kwargs = dict(file_path=str(clean_session.rdb_path), stream_name="sbp")
        self.interface = self.data_interface_cls(**self.interface_kwargs)
        return self.interface, self.test_name

    def check_read_nwb(self, nwbfile_path: str):
        nwbfile = read_nwb(nwbfile_path)
        assert nwbfile.acquisition["sbp_samples"].data.shape[1] == 128


def test_data_equal_the_written_payloads(clean_session, tmp_path):
    interface = BrandTimeSeriesInterface(file_path=str(clean_session.rdb_path), stream_name="sbp")
    path = tmp_path / "sbp.nwb"
    interface.run_conversion(nwbfile_path=path, overwrite=True)
    truth = clean_session.truth.streams["sbp"].fields["samples"]
    series = read_nwb(path).acquisition["sbp_samples"]
    np.testing.assert_array_equal(series.data[:], truth.reshape(-1, truth.shape[-1]))


def test_sync_clock_times_regular_series_written_with_rate(clean_session, tmp_path):
    interface = BrandTimeSeriesInterface(file_path=str(clean_session.rdb_path), stream_name="sbp")
    truth = clean_session.truth
    start_ms = enabled_start_ms(truth, interface.graph)
    assert interface.session_start_ms == start_ms
    assert truth.streams["sbp"].sync_present["nsp_idx_1"].all()
    expected, _ = expected_sync_times(truth, "sbp", start_ms)
    np.testing.assert_allclose(interface.get_timestamps(), expected, atol=1e-9)

    path = tmp_path / "sbp.nwb"
    interface.run_conversion(nwbfile_path=path, overwrite=True)
    nwbfile = read_nwb(path)
    series = nwbfile.acquisition["sbp_samples"]
    assert nwbfile.session_start_time == session_start_datetime(start_ms)
    assert series.timestamps is None and series.rate == pytest.approx(1000.0)
    assert series.starting_time == pytest.approx(expected[0], abs=1e-9)


def test_nsp_clock_reset_keeps_every_entry_and_time_runs_on(hazard_session, tmp_path):
    truth = hazard_session.truth
    reset_at = truth.hazards.reset_first_entry["sbp"]
    interface = BrandTimeSeriesInterface(file_path=str(hazard_session.rdb_path), stream_name="sbp")
    with pytest.warns(UserWarning, match=r"sync label 'nsp_idx_1' restarts 1 time\(s\)"):
        times = interface.get_timestamps()
    assert interface.entry_times.resets.tolist() == [reset_at]
    stream = truth.streams["sbp"]
    assert len(times) == len(stream.ids)  # exportNWB would cut everything before the reset
    expected, _ = expected_sync_times(truth, "sbp", interface.session_start_ms)
    np.testing.assert_allclose(times, expected, atol=1e-9)
    assert np.all(np.diff(times) > 0)


def test_redis_clock_option(clean_session):
    interface = BrandTimeSeriesInterface(
        file_path=str(clean_session.rdb_path), stream_name="sbp", clock="redis"
    )
    ids_ms = clean_session.truth.streams["sbp"].ids[:, 0].astype(np.int64)
    np.testing.assert_allclose(interface.get_timestamps(), (ids_ms - interface.session_start_ms) / 1000.0)


def test_metadata_names_units_and_descriptions_are_editable(clean_session, tmp_path):
    interface = BrandTimeSeriesInterface(file_path=str(clean_session.rdb_path), stream_name="binned_spikes")
    metadata = interface.get_metadata()
    block = metadata["TimeSeries"]["binned_spikes_samples"]
    assert block["name"] == "binned_spikes_samples"
    block.update(name="binned_counts", description="20 ms spike counts", unit="spikes")
    path = tmp_path / "binned.nwb"
    interface.run_conversion(nwbfile_path=path, metadata=metadata, overwrite=True)
    series = read_nwb(path).acquisition["binned_counts"]
    assert (series.description, series.unit) == ("20 ms spike counts", "spikes")
    truth = clean_session.truth.streams["binned_spikes"].fields["samples"]
    np.testing.assert_array_equal(series.data[:], truth.reshape(len(truth), -1))


def test_stub_writes_only_the_first_entries(clean_session, tmp_path):
    interface = BrandTimeSeriesInterface(file_path=str(clean_session.rdb_path), stream_name="sbp")
    path = tmp_path / "stub.nwb"
    interface.run_conversion(nwbfile_path=path, overwrite=True, stub_test=True)
    assert read_nwb(path).acquisition["sbp_samples"].data.shape[0] == 1000


def test_nwbinspector_finds_nothing_serious(clean_session, tmp_path):
    interface = BrandTimeSeriesInterface(file_path=str(clean_session.rdb_path), stream_name="sbp")
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


def test_unknown_stream_lists_the_known_ones(clean_session):
    with pytest.raises(
        GraphError, match=r"stream 'nope' is not in the graph; streams the graph knows: .*sbp"
    ):
        BrandTimeSeriesInterface(file_path=str(clean_session.rdb_path), stream_name="nope")


def test_stream_of_another_mechanism_is_refused(clean_session):
    with pytest.raises(GraphError, match=r"'cursorData' has type_nwb 'Position'"):
        BrandTimeSeriesInterface(file_path=str(clean_session.rdb_path), stream_name="cursorData")
