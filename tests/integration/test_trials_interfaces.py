"""BrandTrialsInterface and BrandTrialInfoInterface on synthetic sessions: trials, go cues and per-trial values
against the generator's ground truth, every trial hazard, NeuroConv's mixins, both backends, nwbinspector."""

import numpy as np
import pytest
from neuroconv import ConverterPipe
from neuroconv.tools.testing.data_interface_mixins import DataInterfaceTestMixin, TemporalAlignmentMixin
from nwbinspector import Importance, inspect_nwbfile, load_config
from pynwb import read_nwb
from pynwb.testing.mock.file import mock_NWBFile

from neuroconv_brand import BrandConverter
from neuroconv_brand.errors import GraphError
from neuroconv_brand.graph.stream_specs import KeySpec, StreamSpec
from neuroconv_brand.interfaces.trial_info import BrandTrialInfoInterface
from neuroconv_brand.interfaces.trials import BrandTrialsInterface
from neuroconv_brand.mechanisms.trial_definition import read_trial_definition
from neuroconv_brand.testing import SessionConfig, expected_sync_times, save_session_rdb

LABEL, RATE = "nsp_idx_1", 1000.0
INFO_KEYS = ("target_X", "target_Y", "start_X", "start_Y", "target_radius", "cursor_radius", "dwell_time")
SUBJECT = dict(subject_id="t0", species="Homo sapiens", sex="M", age="P40Y")


@pytest.fixture(params=["clean_session", "hazard_session"])
def saved(request):
    return request.getfixturevalue(request.param)


# ---------------------------------------------------------------------------------------------- NeuroConv mixins


class TestTrialsInterfaceMixins(DataInterfaceTestMixin, TemporalAlignmentMixin):
    data_interface_cls = BrandTrialsInterface
    interface_kwargs = {}

    @pytest.fixture
    def setup_interface(self, request, clean_session):
        self.test_name = ""
        self.truth = clean_session.truth
        self.interface_kwargs = dict(file_path=str(clean_session.rdb_path), stream_name="state")
        self.interface = self.data_interface_cls(**self.interface_kwargs)
        return self.interface, self.test_name

    def check_read_nwb(self, nwbfile_path: str):
        trials = read_nwb(nwbfile_path).trials
        expected = self.interface.get_timestamps()[[trial.start_index for trial in self.truth.trials]]
        np.testing.assert_array_equal(trials["start_time"][:], expected)


class TestTrialInfoInterfaceMixins(DataInterfaceTestMixin, TemporalAlignmentMixin):
    data_interface_cls = BrandTrialInfoInterface
    interface_kwargs = {}

    @pytest.fixture
    def setup_interface(self, request, clean_session):
        self.test_name = ""
        self.truth = clean_session.truth
        self.interface_kwargs = dict(file_path=str(clean_session.rdb_path), stream_name="trial_info")
        self.interface = self.data_interface_cls(**self.interface_kwargs)
        return self.interface, self.test_name

    def check_read_nwb(self, nwbfile_path: str):
        trials = read_nwb(nwbfile_path).trials
        fields = self.truth.streams["trial_info"].fields
        assert list(trials["trial_info_cond_id"][:]) == [
            fields["cond_id"][t.trial_info_index] for t in self.truth.trials
        ]


# ----------------------------------------------------------------------------------------- trials against truth


def test_trials_and_go_cues_equal_the_truth(saved, tmp_path):
    truth = saved.truth
    interface = BrandTrialsInterface(file_path=str(saved.rdb_path), stream_name="state")
    entry_times = interface.get_timestamps()
    # The interface's entry times are the documented clock: label / rate + fitted offset, near the Redis time.
    expected_times, redis_s = expected_sync_times(truth, "state", interface.session_start_ms)
    np.testing.assert_allclose(entry_times, expected_times, atol=1e-9)
    assert np.abs(entry_times - redis_s).max() < 0.05  # label time vs publication: the task node's latency

    path = tmp_path / "trials.nwb"
    interface.run_conversion(nwbfile_path=path, overwrite=True)
    trials = read_nwb(path).trials
    assert len(trials) == len(truth.trials)
    np.testing.assert_array_equal(trials["start_time"][:], entry_times[[t.start_index for t in truth.trials]])
    np.testing.assert_array_equal(trials["stop_time"][:], entry_times[[t.end_index for t in truth.trials]])
    go = [np.nan if t.go_cue_index is None else entry_times[t.go_cue_index] for t in truth.trials]
    np.testing.assert_array_equal(trials["go_cue_time"][:], go)
    assert trials["go_cue_time"].description == "Time of go cue onset"
    assert trials.colnames == ("start_time", "stop_time", "go_cue_time")


def test_custom_trial_state_key_exportnwb_bug_10(hazard_session):
    # exportNWB read the hard-coded key 'state'; this session's state key is 'task_state'.
    interface = BrandTrialsInterface(file_path=str(hazard_session.rdb_path), stream_name="state")
    assert interface.definition.state_key == hazard_session.truth.hazards.trial_state_key == "task_state"
    truth_states = hazard_session.truth.streams["state"].fields["task_state"]
    assert list(interface.states) == list(truth_states)


def test_missing_end_orphan_end_and_unfinished_trial_warn_and_never_mispair_exportnwb_bug_10(hazard_session):
    truth = hazard_session.truth
    hazards, ids = truth.hazards, truth.streams["state"].id_strings()
    interface = BrandTrialsInterface(file_path=str(hazard_session.rdb_path), stream_name="state")
    with pytest.warns(UserWarning) as record:
        trials = interface.compute_trials()
    messages = [str(w.message) for w in record]
    assert any(
        f"1 trial start(s) followed by another start before any end (entries {ids[hazards.missing_end_start]})"
        in m
        for m in messages
    )
    assert any(f"1 trial end(s) without a start (entries {ids[hazards.orphan_end]})" in m for m in messages)
    assert any(
        f"the last trial (start at entry {ids[hazards.unfinished_start]}) has no end" in m for m in messages
    )
    assert trials.pairing.starts.tolist() == [t.start_index for t in truth.trials]
    assert trials.pairing.stops.tolist() == [t.end_index for t in truth.trials]
    assert hazards.missing_end_start not in trials.pairing.starts
    assert hazards.unfinished_start not in trials.pairing.starts


def test_end_and_next_start_in_the_same_millisecond(hazard_session):
    truth = hazard_session.truth
    end, start = truth.hazards.same_ms_state_pair
    ids = truth.streams["state"].ids
    assert ids[end, 0] == ids[start, 0] and ids[end, 1] + 1 == ids[start, 1]
    interface = BrandTrialsInterface(file_path=str(hazard_session.rdb_path), stream_name="state")
    with pytest.warns(UserWarning):
        trials = interface.compute_trials()
    k = trials.pairing.stops.tolist().index(end)
    assert trials.pairing.starts[k + 1] == start
    assert trials.stop_time[k] == trials.start_time[k + 1]


def test_redis_clock_trials(hazard_session):
    truth = hazard_session.truth
    interface = BrandTrialsInterface(
        file_path=str(hazard_session.rdb_path), stream_name="state", clock="redis"
    )
    with pytest.warns(UserWarning):
        trials = interface.compute_trials()
    ms = truth.streams["state"].ids[:, 0].astype(np.int64)
    expected = (ms[[t.start_index for t in truth.trials]] - interface.session_start_ms) / 1000.0
    np.testing.assert_array_equal(trials.start_time, expected)


def test_aligned_times_are_what_the_table_gets(clean_session):
    interface = BrandTrialsInterface(file_path=str(clean_session.rdb_path), stream_name="state")
    interface.set_aligned_starting_time(10.0)
    nwbfile = mock_NWBFile()
    interface.add_to_nwbfile(nwbfile)
    first = clean_session.truth.trials[0].start_index
    assert nwbfile.trials["start_time"][0] == interface.get_original_timestamps()[first] + 10.0


def test_a_second_trials_table_is_refused(clean_session):
    interface = BrandTrialsInterface(file_path=str(clean_session.rdb_path), stream_name="state")
    nwbfile = mock_NWBFile()
    interface.add_to_nwbfile(nwbfile)
    with pytest.raises(GraphError, match=r"already has a trials table.*the graph enables: state"):
        interface.add_to_nwbfile(nwbfile)


def test_metadata_edits_descriptions(clean_session):
    interface = BrandTrialsInterface(file_path=str(clean_session.rdb_path), stream_name="state")
    metadata = interface.get_metadata()
    block = metadata["TimeIntervals"]["trials"]
    assert block["table_name"] == "trials"  # NeuroConv's TimeIntervals keys
    assert metadata["TrialColumns"]["go_cue_time"] == "Time of go cue onset"
    block["table_description"] = "radial-8 center-out trials"
    metadata["TrialColumns"]["go_cue_time"] = "target turns green"
    nwbfile = mock_NWBFile()
    interface.add_to_nwbfile(nwbfile, metadata)
    assert nwbfile.trials.description == "radial-8 center-out trials"
    assert nwbfile.trials["go_cue_time"].description == "target turns green"


# ----------------------------------------------------------------------------------------- trial definitions


def trial_spec(**nwb):
    keys = {"state": KeySpec("state", dtype="str", nwb=nwb), "i": KeySpec("i", dtype="uint32")}
    return StreamSpec("state", type_nwb="Trial", enabled=True, keys=keys)


@pytest.mark.parametrize(
    ("nwb", "message"),
    [
        (
            {"end_trial_indicators": ["end"]},
            r"no 'start_trial_indicators'; list the state values that start a trial",
        ),
        ({"start_trial_indicators": [], "end_trial_indicators": ["e"]}, r"'start_trial_indicators' is empty"),
        (
            {"trial_state": "task_state", "start_trial_indicators": ["s"], "end_trial_indicators": ["e"]},
            r"trial_state names key 'task_state', which the stream does not declare \(declared: \['i', 'state'\]\)",
        ),
        ({"start_trial_indicators": ["s"], "end_trial_indicators": ["s"]}, r"\['s'\] are both start and end"),
        (
            {
                "start_trial_indicators": ["s"],
                "end_trial_indicators": ["e"],
                "other_trial_indicators": ["stop_time"],
            },
            r"'stop_time' would replace the trials column",
        ),
        ({"unit": "n/a"}, r"no key's nwb block defines trial_state"),
    ],
)
def test_bad_trial_definitions_are_clear_errors(nwb, message):
    with pytest.raises(GraphError, match=message):
        read_trial_definition(trial_spec(**nwb))


def test_multichannel_state_key_is_refused():
    keys = {
        "state": KeySpec(
            "state", chan=2, dtype="int32", nwb={"start_trial_indicators": [1], "end_trial_indicators": [2]}
        )
    }
    with pytest.raises(GraphError, match=r"2 x 1 values per entry|1 x 2 values per entry"):
        read_trial_definition(StreamSpec("state", type_nwb="Trial", keys=keys))


def test_definition_defaults_to_the_carrying_key_and_scalar_indicators():
    definition = read_trial_definition(
        trial_spec(start_trial_indicators="go", end_trial_indicators=["stop", "abort"])
    )
    assert (definition.state_key, definition.start_indicators, definition.end_indicators) == (
        "state",
        ("go",),
        ("stop", "abort"),
    )


# ----------------------------------------------------------------------------------------- TrialInfo


def truth_info(truth, stream, key):
    fields = truth.streams[stream].fields
    index = "trial_info_index" if stream == "trial_info" else "trial_success_index"
    return [fields[key][getattr(t, index)] for t in truth.trials]


def test_trial_info_columns_equal_the_truth_after_the_trials_interface(saved, tmp_path):
    truth, source = saved.truth, str(saved.rdb_path)
    interfaces = {
        "Trials": BrandTrialsInterface(file_path=source, stream_name="state"),
        "Info": BrandTrialInfoInterface(file_path=source, stream_name="trial_info"),
        "Success": BrandTrialInfoInterface(file_path=source, stream_name="trial_success"),
    }
    path = tmp_path / "trial_info.nwb"
    ConverterPipe(data_interfaces=interfaces).run_conversion(nwbfile_path=path, overwrite=True)
    trials = read_nwb(path).trials
    assert len(trials) == len(truth.trials)
    for key in INFO_KEYS:
        expected = np.array([v[0, 0] for v in truth_info(truth, "trial_info", key)], dtype=np.float32)
        column = trials[f"trial_info_{key}"]
        np.testing.assert_array_equal(column[:], expected)
        assert column.data.dtype == np.float32
    assert list(trials["trial_info_cond_id"][:]) == truth_info(truth, "trial_info", "cond_id")
    assert [t.cond_id for t in truth.trials] == truth_info(truth, "trial_info", "cond_id")
    success = trials["trial_success_success"]
    assert success.data.dtype == np.bool_
    assert success[:].tolist() == [t.success for t in truth.trials]
    assert (
        success.description == "A boolean indicator of whether the trial's target was acquired successfully"
    )


def test_trial_info_alone_builds_the_trials_itself(hazard_session):
    truth = hazard_session.truth
    interface = BrandTrialInfoInterface(file_path=str(hazard_session.rdb_path), stream_name="trial_success")
    assert interface.trial_stream_name == "state"
    nwbfile = mock_NWBFile()
    with pytest.warns(UserWarning, match="has no end"):
        interface.add_to_nwbfile(nwbfile)
    assert len(nwbfile.trials) == len(truth.trials)
    assert nwbfile.trials["trial_success_success"].data.tolist() == [t.success for t in truth.trials]


def test_success_of_a_trial_ending_when_the_next_starts_goes_to_the_ending_trial(hazard_session):
    # The same-millisecond hazard: trial k ends and trial k+1 starts at the same time; trial k's trial_success
    # entry is stamped with that time too. Each trial must get its own entry (its index in the truth).
    truth = hazard_session.truth
    end, _ = truth.hazards.same_ms_state_pair
    k = [t.end_index for t in truth.trials].index(end)
    interface = BrandTrialInfoInterface(file_path=str(hazard_session.rdb_path), stream_name="trial_success")
    trials = BrandTrialsInterface(file_path=str(hazard_session.rdb_path), stream_name="state")
    with pytest.warns(UserWarning):
        computed = trials.compute_trials()
        first, _ = interface.trial_values(computed.start_time, computed.stop_time)
    assert first[k : k + 2].tolist() == [
        truth.trials[k].trial_success_index,
        truth.trials[k + 1].trial_success_index,
    ]
    assert first.tolist() == [t.trial_success_index for t in truth.trials]


def test_existing_trials_table_is_reused_and_trials_without_entries_get_missing_values(clean_session):
    truth = clean_session.truth
    source = str(clean_session.rdb_path)
    nwbfile = mock_NWBFile()
    BrandTrialsInterface(file_path=source, stream_name="state").add_to_nwbfile(nwbfile)
    last_stop = float(nwbfile.trials["stop_time"][-1])
    starts = [*nwbfile.trials["start_time"][:], last_stop + 0.01]  # one more trial, with no entry inside
    stops = [*nwbfile.trials["stop_time"][:], last_stop + 0.02]
    user_file = mock_NWBFile()
    for start, stop in zip(starts, stops):
        user_file.add_trial(start_time=start, stop_time=stop)
    success = BrandTrialInfoInterface(file_path=source, stream_name="trial_success")
    info = BrandTrialInfoInterface(file_path=source, stream_name="trial_info")
    with pytest.warns(UserWarning, match=r"1 of 5 trials hold no entry.*success \(bool\) written as float64"):
        success.add_to_nwbfile(user_file)
    with pytest.warns(UserWarning, match=r"1 of 5 trials hold no entry of this stream"):
        info.add_to_nwbfile(user_file)
    column = user_file.trials["trial_success_success"].data
    assert column.dtype == np.float64
    np.testing.assert_array_equal(column, [*(float(t.success) for t in truth.trials), np.nan])
    assert list(user_file.trials["trial_info_cond_id"].data) == [*(t.cond_id for t in truth.trials), ""]
    assert np.isnan(user_file.trials["trial_info_target_X"].data[-1])


def test_trial_info_added_twice_is_refused(clean_session):
    interface = BrandTrialInfoInterface(file_path=str(clean_session.rdb_path), stream_name="trial_success")
    nwbfile = mock_NWBFile()
    interface.add_to_nwbfile(nwbfile)
    with pytest.raises(GraphError, match=r"already has column\(s\) \['trial_success_success'\]"):
        interface.add_to_nwbfile(nwbfile)


def test_trial_stream_name_must_be_a_trial_stream(clean_session):
    with pytest.raises(
        GraphError, match=r"trial_stream_name 'cursorData' has type_nwb 'Position', not Trial"
    ):
        BrandTrialInfoInterface(
            file_path=str(clean_session.rdb_path), stream_name="trial_success", trial_stream_name="cursorData"
        )


@pytest.fixture(scope="module")
def vector_session(tmp_path_factory):
    folder = tmp_path_factory.mktemp("vector_session")
    path = folder / "vector.rdb"
    truth = save_session_rdb(SessionConfig(duration_s=3.0, seed=5, trial_info_vector=True), path, folder)
    return path, truth


def test_vector_trial_info_key_becomes_an_array_column_exportnwb_bug_11(vector_session, tmp_path):
    # exportNWB called .item() on every TrialInfo value, so chan_per_stream > 1 crashed.
    path, truth = vector_session
    interface = BrandTrialInfoInterface(file_path=str(path), stream_name="trial_info")
    out = tmp_path / "vector.nwb"
    interface.run_conversion(nwbfile_path=out, overwrite=True)
    column = read_nwb(out).trials["trial_info_target_pos"]
    expected = np.stack([v[0] for v in truth_info(truth, "trial_info", "target_pos")])
    assert column.data.shape == (len(truth.trials), 2)
    np.testing.assert_array_equal(column[:], expected)
    assert column.description == "Target (X, Y) for trial"


def test_monotonic_clock_keeps_trial_info_inside_its_trial(hazard_session):
    truth = hazard_session.truth
    source = str(hazard_session.rdb_path)
    nwbfile = mock_NWBFile()
    with pytest.warns(UserWarning):
        BrandTrialsInterface(file_path=source, stream_name="state", clock="monotonic").add_to_nwbfile(nwbfile)
        BrandTrialInfoInterface(file_path=source, stream_name="trial_info", clock="monotonic").add_to_nwbfile(
            nwbfile
        )
    assert list(nwbfile.trials["trial_info_cond_id"].data) == [t.cond_id for t in truth.trials]


def test_converter_writes_trials_then_their_values_and_nwbinspector_is_clean(saved, tmp_path):
    truth = saved.truth
    streams = ["trial_info", "cursorData", "trial_success", "state", "targetData"]
    converter = BrandConverter(file_path=saved.rdb_path, streams=streams)
    # participant first (electrodes), then trials, then the columns that need them
    assert list(converter.data_interface_objects)[:2] == ["Participant", "state"]
    metadata = converter.get_metadata()
    metadata["Subject"] = dict(SUBJECT)
    path = tmp_path / "session.nwb"
    converter.run_conversion(nwbfile_path=path, metadata=metadata)
    nwbfile = read_nwb(path)
    entry_times = converter.data_interface_objects["state"].get_timestamps()
    np.testing.assert_array_equal(
        nwbfile.trials["start_time"][:], entry_times[[t.start_index for t in truth.trials]]
    )
    assert list(nwbfile.trials["trial_info_cond_id"][:]) == [t.cond_id for t in truth.trials]
    assert nwbfile.trials["trial_success_success"][:].tolist() == [t.success for t in truth.trials]
    np.testing.assert_array_equal(
        nwbfile.acquisition["cursorData"]["X"].data[:], truth.streams["cursorData"].fields["X"][:, 0, :]
    )
    messages = list(
        inspect_nwbfile(
            path, config=load_config("dandi"), importance_threshold=Importance.BEST_PRACTICE_VIOLATION
        )
    )
    assert messages == []
