"""The SpikeInterface extractors rebuild from their ``_kwargs`` (``to_dict``/``load``) and through pickle, the
way SpikeInterface hands them to worker processes, with the same traces, spikes and times."""

import pickle

import numpy as np
import pytest
from spikeinterface.core import load

from neuroconv_brand import BrandRecordingExtractor, BrandSortingExtractor, read_brand
from neuroconv_brand.testing import SessionConfig, save_session_rdb


@pytest.fixture(scope="module")
def raw_session(tmp_path_factory):
    folder = tmp_path_factory.mktemp("round_trip")
    config = SessionConfig(duration_s=0.5, raw=True, n_arrays=1, channels_per_array=16, task=False, seed=9)
    save_session_rdb(config, folder / "raw.rdb", folder)
    return folder / "raw.rdb"


def rebuilt(extractor):
    """The extractor rebuilt from its dictionary, and from a pickle."""
    return [load(extractor.to_dict()), pickle.loads(pickle.dumps(extractor))]


def test_read_brand_is_the_recording_extractor(raw_session):
    recording = read_brand(raw_session, "nsp_neural")
    assert isinstance(recording, BrandRecordingExtractor)
    assert recording.get_num_channels() == 16


def test_recording_round_trip(raw_session):
    recording = BrandRecordingExtractor(raw_session, "nsp_neural", clock="redis")
    traces = recording.get_traces(start_frame=0, end_frame=500)
    assert traces.shape == (500, 16) and np.any(traces)
    for copy in rebuilt(recording):
        assert isinstance(copy, BrandRecordingExtractor)
        assert copy._kwargs == recording._kwargs
        np.testing.assert_array_equal(copy.get_traces(start_frame=0, end_frame=500), traces)
        np.testing.assert_array_equal(copy.get_times(), recording.get_times())


def test_sorting_round_trip(raw_session):
    sorting = BrandSortingExtractor(raw_session, "thresh_cross", unit_ids=list(range(100, 116)))
    trains = {unit: sorting.get_unit_spike_train(unit) for unit in sorting.get_unit_ids()}
    assert sum(len(train) for train in trains.values()) > 0
    for copy in rebuilt(sorting):
        assert isinstance(copy, BrandSortingExtractor)
        assert copy._kwargs == sorting._kwargs
        assert list(copy.get_unit_ids()) == list(range(100, 116))
        for unit, train in trains.items():
            np.testing.assert_array_equal(copy.get_unit_spike_train(unit), train)


def test_the_extractors_use_the_session_wide_clock_fit(hazard_session):
    """A sync label maps to one session time in every stream: the sorting's first spike-entry time is the spike
    interface's, both through the session's shared fit (kept in the session's context)."""
    from neuroconv_brand import BrandSpikeTimesInterface

    interface = BrandSpikeTimesInterface(file_path=hazard_session.rdb_path, stream_name="thresh_cross")
    sorting = BrandSortingExtractor(hazard_session.rdb_path, "thresh_cross")
    assert sorting.session is interface.session
    assert any(key[2] == "sync" for key in sorting.session.context.clock_fits)
    assert sorting._sorting_segments[0]._t_start == interface.get_timestamps()[0]
