"""BrandPositionInterface on synthetic sessions: payloads, times, nwb settings, NeuroConv's mixins, nwbinspector."""

import dataclasses

import numpy as np
import pytest
from neuroconv.tools.testing.data_interface_mixins import DataInterfaceTestMixin, TemporalAlignmentMixin
from nwbinspector import Importance, inspect_nwbfile, load_config
from pynwb import read_nwb
from pynwb.testing.mock.file import mock_NWBFile

from neuroconv_brand.errors import ConfigurationError, GraphError
from neuroconv_brand.interfaces.position import BrandPositionInterface, normalize_unit
from neuroconv_brand.testing import expected_sync_times

LABEL, RATE = "nsp_idx_1", 1000.0
KEYS = ("X", "Y", "radius", "state")


def series_times(series):
    if series.timestamps is not None:
        return series.timestamps[:]
    return series.starting_time + np.arange(series.data.shape[0]) / series.rate


@pytest.fixture(params=["clean_session", "hazard_session"])
def saved(request):
    return request.getfixturevalue(request.param)


class TestPositionInterfaceMixins(DataInterfaceTestMixin, TemporalAlignmentMixin):
    data_interface_cls = BrandPositionInterface
    interface_kwargs = {}

    @pytest.fixture
    def setup_interface(self, request, clean_session):
        self.test_name = ""
        self.truth = clean_session.truth
        self.interface_kwargs = dict(file_path=str(clean_session.rdb_path), stream_name="targetData")
        self.interface = self.data_interface_cls(**self.interface_kwargs)
        return self.interface, self.test_name

    def check_read_nwb(self, nwbfile_path: str):
        position = read_nwb(nwbfile_path).acquisition["targetData"]
        assert sorted(position.spatial_series) == sorted(KEYS)
        truth = self.truth.streams["targetData"].fields["X"]
        np.testing.assert_array_equal(position["X"].data[:], truth[:, 0, :])


@pytest.mark.parametrize("stream", ["cursorData", "targetData"])
def test_positions_and_times_equal_the_truth(saved, stream, tmp_path):
    truth = saved.truth.streams[stream]
    interface = BrandPositionInterface(file_path=str(saved.rdb_path), stream_name=stream)
    path = tmp_path / "position.nwb"
    interface.run_conversion(nwbfile_path=path, overwrite=True)
    position = read_nwb(path).acquisition[stream]
    expected_times, redis_s = expected_sync_times(saved.truth, stream, interface.session_start_ms)
    assert np.abs(expected_times - redis_s).max() < 0.05  # label time vs publication: the task node's latency
    for key in KEYS:
        series = position[key]
        payload = truth.fields[key]
        assert series.data.shape == (truth.n_entries, 1)
        assert series.data.dtype == payload.dtype
        np.testing.assert_array_equal(series.data[:], payload[:, 0, :])
        np.testing.assert_allclose(series_times(series), expected_times, atol=1e-9)


def test_empty_sync_entries_take_their_latency_corrected_redis_time(hazard_session):
    truth = hazard_session.truth.streams["cursorData"]
    n_empty = hazard_session.truth.hazards.empty_sync["cursorData"]
    assert (
        not truth.sync_present["nsp_idx_1"][:n_empty].any()
        and truth.sync_present["nsp_idx_1"][n_empty:].all()
    )
    interface = BrandPositionInterface(file_path=str(hazard_session.rdb_path), stream_name="cursorData")
    with pytest.warns(UserWarning, match=rf"{n_empty} entries lack the sync clock's field \(nsp_idx_1\)"):
        times = interface.get_timestamps()
    expected, redis_s = expected_sync_times(hazard_session.truth, "cursorData", interface.session_start_ms)
    np.testing.assert_allclose(times, expected, atol=1e-9)
    latency = np.median(redis_s[n_empty:] - times[n_empty:])
    np.testing.assert_allclose(times[:n_empty], redis_s[:n_empty] - latency, atol=1e-9)
    assert np.all(np.diff(times) > 0)


def test_regular_stream_is_written_with_rate(clean_session):
    interface = BrandPositionInterface(file_path=str(clean_session.rdb_path), stream_name="cursorData")
    nwbfile = mock_NWBFile()
    interface.add_to_nwbfile(nwbfile)
    series = nwbfile.acquisition["cursorData"]["Y"]
    assert series.timestamps is None and series.rate == pytest.approx(50.0)
    assert series.starting_time == pytest.approx(interface.get_timestamps()[0])


def test_nwb_settings_pass_and_extra_keys_go_to_comments_exportnwb_bug_13(hazard_session):
    # exportNWB passed the whole nwb dict to SpatialSeries(...): the extra 'foo: 1' crashed it.
    extra = hazard_session.truth.hazards.position_extra_nwb["cursorData"]["X"]
    interface = BrandPositionInterface(file_path=str(hazard_session.rdb_path), stream_name="cursorData")
    nwbfile = mock_NWBFile()
    with pytest.warns(
        UserWarning, match=r"key 'X': nwb setting\(s\) \['foo'\] are not SpatialSeries arguments"
    ):
        interface.add_to_nwbfile(nwbfile)
    x = nwbfile.acquisition["cursorData"]["X"]
    assert (x.reference_frame, x.unit, x.resolution, x.description) == (
        "screen center",
        "pixels",
        1.0,
        "x cursor position",
    )
    assert x.comments == ("BRAND stream 'cursorData', key 'X'; clock: sync; rate: 50.0; nwb extra: foo=1.")
    assert extra == {"foo": 1}
    assert "nwb extra" not in nwbfile.acquisition["cursorData"]["Y"].comments
    state = nwbfile.acquisition["cursorData"]["state"]
    assert (state.unit, state.resolution, state.reference_frame) == ("n.a.", -1.0, "cursor click")


def test_metadata_renames_and_describes(clean_session, tmp_path):
    interface = BrandPositionInterface(file_path=str(clean_session.rdb_path), stream_name="cursorData")
    metadata = interface.get_metadata()
    block = metadata["Behavior"]["Position"]["cursorData"]
    assert block["SpatialSeries"]["radius"]["description"] == "cursor radius"
    block["name"] = "CursorPosition"
    block["SpatialSeries"]["X"].update(name="cursor_x", description="decoded cursor x", unit="centimeters")
    path = tmp_path / "renamed.nwb"
    interface.run_conversion(nwbfile_path=path, metadata=metadata, overwrite=True)
    position = read_nwb(path).acquisition["CursorPosition"]
    x = position["cursor_x"]
    assert (x.description, x.unit) == ("decoded cursor x", "centimeters")
    np.testing.assert_array_equal(x.data[:], clean_session.truth.streams["cursorData"].fields["X"][:, 0, :])


def test_stub_writes_only_the_first_entries(hazard_session, tmp_path):
    interface = BrandPositionInterface(file_path=str(hazard_session.rdb_path), stream_name="targetData")
    path = tmp_path / "stub.nwb"
    interface.run_conversion(nwbfile_path=path, overwrite=True, stub_test=True)
    n = hazard_session.truth.streams["targetData"].n_entries
    assert read_nwb(path).acquisition["targetData"]["X"].data.shape == (min(n, 1000), 1)


def test_more_than_three_channels_is_not_a_position(clean_session):
    interface = BrandPositionInterface(file_path=str(clean_session.rdb_path), stream_name="cursorData")
    wide = dataclasses.replace(interface.spec.keys["X"], chan=4)
    interface.spec = dataclasses.replace(interface.spec, keys={**interface.spec.keys, "X": wide})
    with pytest.raises(
        GraphError, match=r"stream 'cursorData', key 'X': 4 channels per sample.*type_nwb: TimeSeries"
    ):
        interface.add_to_nwbfile(mock_NWBFile())


def test_text_key_is_skipped_with_a_warning(clean_session):
    interface = BrandPositionInterface(file_path=str(clean_session.rdb_path), stream_name="cursorData")
    label = dataclasses.replace(interface.spec.keys["state"], name="label", dtype="str")
    interface.spec = dataclasses.replace(interface.spec, keys={**interface.spec.keys, "label": label})
    nwbfile = mock_NWBFile()
    with pytest.warns(UserWarning, match=r"text key\(s\) \['label'\] cannot be SpatialSeries data"):
        interface.add_to_nwbfile(nwbfile)
    assert sorted(nwbfile.acquisition["cursorData"].spatial_series) == sorted(KEYS)


def test_non_numeric_resolution_is_a_clear_error(clean_session):
    interface = BrandPositionInterface(file_path=str(clean_session.rdb_path), stream_name="cursorData")
    key = interface.spec.keys["Y"]
    bad = dataclasses.replace(key, nwb={**key.nwb, "resolution": "one pixel"})
    interface.spec = dataclasses.replace(interface.spec, keys={**interface.spec.keys, "Y": bad})
    with pytest.raises(
        GraphError, match=r"stream 'cursorData', key 'Y': nwb 'resolution' must be a number, got 'one pixel'"
    ):
        interface.get_metadata()


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("px", "pixels"),
        ("Pixel", "pixels"),
        (None, "n.a."),
        ("n/a", "n.a."),
        ("cm", "centimeters"),
        ("furlongs", "furlongs"),
    ],
)
def test_units_are_spelled_as_nwb_expects(given, expected):
    assert normalize_unit(given) == expected


def test_nwbinspector_finds_nothing_serious(hazard_session, tmp_path):
    interface = BrandPositionInterface(file_path=str(hazard_session.rdb_path), stream_name="cursorData")
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


def test_parent_container_behavior_and_a_bad_one(hazard_session):
    interface = BrandPositionInterface(file_path=str(hazard_session.rdb_path), stream_name="targetData")
    nwbfile = mock_NWBFile()
    interface.add_to_nwbfile(nwbfile, parent_container="processing/behavior")
    assert "targetData" not in nwbfile.acquisition
    assert set(nwbfile.processing["behavior"]["targetData"].spatial_series) == set(interface.numeric_keys)
    with pytest.raises(
        ConfigurationError,
        match=r"^stream 'targetData': parent_container must be 'acquisition' or 'processing/behavior', got 'behavior'\.$",
    ):
        interface.add_to_nwbfile(mock_NWBFile(), parent_container="behavior")
