"""BrandSpikeTimesInterface on saved synthetic sessions: units equal to the generator's ground truth."""

from __future__ import annotations

import copy
import json
import re
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pynwb
import pytest
import redis
from neuroconv import ConverterPipe
from neuroconv.tools.testing.data_interface_mixins import DataInterfaceTestMixin, TemporalAlignmentMixin
from nwbinspector import Importance, inspect_nwbfile, load_config
from pynwb.testing.mock.file import mock_NWBFile

from neuroconv_brand.errors import BrandError, GraphError, StreamDecodeError
from neuroconv_brand.extractors.sorting_extractor import BrandSortingExtractor
from neuroconv_brand.interfaces.iterators import SpooledColumnIterator
from neuroconv_brand.interfaces.participant import BrandParticipantInterface
from neuroconv_brand.interfaces.registry import interface_class_for
from neuroconv_brand.interfaces.spike_times import PLACEHOLDER_GROUP, BrandSpikeTimesInterface
from neuroconv_brand.nwb.zarr_references import json_object_references
from neuroconv_brand.testing import SessionConfig, SyntheticSession, save_session_rdb

SUBJECT = {"species": "Homo sapiens", "sex": "M", "age": "P45Y"}
BACKENDS = ("hdf5", "zarr")


# ------------------------------------------------------------------------------------------- helpers


def save_mutated_rdb(
    config: SessionConfig, folder: Path, mutate: Callable[[redis.Redis, SyntheticSession], None]
) -> tuple[Path, SyntheticSession]:
    """Generate ``config``, let ``mutate`` change the database, save it as ``folder/session.rdb``."""
    return folder / "session.rdb", save_session_rdb(
        config, folder / "session.rdb", folder, before_save=mutate
    )


def publish_supergraph(client: redis.Redis, truth: SyntheticSession, change: Callable[[dict], None]) -> None:
    """An ``updateParameters``-style new supergraph entry (readers use the latest)."""
    model = copy.deepcopy(truth.supergraph)
    change(model)
    client.xadd("supergraph_stream", {"data": json.dumps(model)})


def convert(interfaces, path: Path, backend: str = "hdf5", **conversion_options) -> Path:
    pipe = ConverterPipe(interfaces)
    metadata = pipe.get_metadata()
    metadata["Subject"].update(SUBJECT)
    with json_object_references():  # NeuroConv's ConverterPipe would write Zarr references with pickle
        pipe.run_conversion(
            nwbfile_path=str(path),
            metadata=metadata,
            backend=backend,
            overwrite=True,
            conversion_options=conversion_options,
        )
    return path


def expected_spike_times(
    interface: BrandSpikeTimesInterface, truth: SyntheticSession, stream: str
) -> list[np.ndarray]:
    """Truth entries with a crossing, stamped with the interface's own entry times."""
    assert np.array_equal(interface.timeline.ids, truth.streams[stream].ids)
    seconds = interface.get_timestamps()
    return [seconds[entries] for entries in truth.spike_entries(stream)]


def assert_units_match(nwbfile, interfaces: dict[str, BrandSpikeTimesInterface], truth: SyntheticSession):
    units = nwbfile.units
    streams = np.asarray(units["stream"].data[:]).astype(str)
    channels = np.asarray(units["channel"].data[:])
    electrode_rows = np.asarray(units["electrodes"].target.data[:])
    assert len(units) == sum(interface.crossings.chan for interface in interfaces.values())
    first_row = 0
    for stream, interface in interfaces.items():
        expected = expected_spike_times(interface, truth, stream)
        unit_indices = np.flatnonzero(streams == stream)
        assert channels[unit_indices].tolist() == list(range(len(expected)))
        width = len(expected)
        assert electrode_rows[unit_indices].tolist() == list(range(first_row, first_row + width))
        for channel, unit in enumerate(unit_indices):
            np.testing.assert_array_equal(units["spike_times"][unit], expected[channel])
            truth_electrode = truth.electrodes[first_row + channel]
            assert units["electrode_group"][unit].name == truth_electrode.implant
        first_row += width
    assert sum(len(units["spike_times"][u]) for u in range(len(units))) > 100


# ------------------------------------------------------------------------------------------- sessions
@pytest.fixture(scope="module")
def split_session(tmp_path_factory):
    """3 arrays x 32 channels, one thresh_cross_<a> per array, array 1 on NSP 1 and the others on NSP 2."""
    folder = tmp_path_factory.mktemp("split_session")
    config = SessionConfig(
        duration_s=2.0, split_arrays=True, n_arrays=3, channels_per_array=32, two_nsps=True, seed=3
    )
    truth = save_session_rdb(config, folder / "split.rdb", folder)
    return folder / "split.rdb", truth


# ------------------------------------------------------------------------------------------- values
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("which", ["hazard_session", "clean_session"])
def test_spike_times_per_unit_equal_truth(request, tmp_path, which, backend):
    saved = request.getfixturevalue(which)
    participant = BrandParticipantInterface(file_path=str(saved.rdb_path))
    spikes = BrandSpikeTimesInterface(file_path=str(saved.rdb_path), stream_name="thresh_cross")
    path = convert([participant, spikes], tmp_path / f"{which}.nwb", backend)
    nwbfile = pynwb.read_nwb(path)
    assert_units_match(nwbfile, {"thresh_cross": spikes}, saved.truth)


@pytest.mark.parametrize("backend", BACKENDS)
def test_several_spike_times_streams_link_the_right_electrodes(split_session, tmp_path, backend):
    rdb, truth = split_session
    interfaces = {
        f"thresh_cross_{a}": BrandSpikeTimesInterface(file_path=str(rdb), stream_name=f"thresh_cross_{a}")
        for a in (1, 2, 3)
    }
    path = convert(
        [BrandParticipantInterface(file_path=str(rdb)), *interfaces.values()], tmp_path / "split.nwb", backend
    )
    nwbfile = pynwb.read_nwb(path)
    assert len(nwbfile.electrodes) == 96
    assert_units_match(nwbfile, interfaces, truth)
    groups = [nwbfile.units["electrode_group"][u].name for u in range(96)]
    assert groups == ["array 1"] * 32 + ["array 2"] * 32 + ["array 3"] * 32


@pytest.mark.parametrize("era", ["2022-07", "2023"])
def test_older_eras_read_node_yamls_and_relative_participant_paths(tmp_path, era):
    config = SessionConfig(duration_s=1.0, era=era, n_arrays=1, channels_per_array=96, task=False, seed=6)
    truth = save_session_rdb(config, tmp_path / "old.rdb", tmp_path)
    common = dict(file_path=str(tmp_path / "old.rdb"), brand_base_dir=str(truth.brand_base_dir))
    # The 2022-07 graph names no devices file (exportNWB's default is <base>/../Data/devices.yaml).
    participant = BrandParticipantInterface(devices_file=str(truth.devices_file), **common)
    spikes = BrandSpikeTimesInterface(stream_name="thresh_cross", **common)
    nwbfile = mock_NWBFile()
    participant.add_to_nwbfile(nwbfile)
    spikes.add_to_nwbfile(nwbfile)
    expected = expected_spike_times(spikes, truth, "thresh_cross")
    assert len(nwbfile.units) == 96
    for channel in (0, 50, 95):
        np.testing.assert_array_equal(nwbfile.units["spike_times"][channel], expected[channel])
    assert nwbfile.units["electrode_group"][95].name == "array 1"


def test_spike_times_are_seconds_since_session_start(clean_session):
    truth = clean_session.truth
    spikes = BrandSpikeTimesInterface(file_path=str(clean_session.rdb_path), stream_name="thresh_cross")
    times, counts = spikes.read_spike_times()
    entries = np.concatenate(truth.spike_entries("thresh_cross"))
    redis_seconds = (
        truth.streams["thresh_cross"].ids[entries, 0].astype(np.int64) - truth.session_start_ms
    ) / 1000
    assert len(times) == len(entries) == counts.sum()
    # Entry-clock times sit within a few ms of the Redis id clock of the same entries, on the session axis.
    assert np.abs(times - redis_seconds).max() < 0.01
    assert times.min() >= 0


def test_obs_intervals_shape_is_pynwb_valid(clean_session, tmp_path):
    spikes = BrandSpikeTimesInterface(file_path=str(clean_session.rdb_path), stream_name="thresh_cross")
    path = convert(
        [BrandParticipantInterface(file_path=str(clean_session.rdb_path)), spikes], tmp_path / "obs.nwb"
    )
    nwbfile = pynwb.read_nwb(path)
    seconds = spikes.get_timestamps()
    for unit in (0, 77, 127):
        interval = np.asarray(nwbfile.units["obs_intervals"][unit])
        assert interval.shape == (1, 2)
        np.testing.assert_array_equal(interval[0], [seconds[0], seconds[-1]])
    assert nwbfile.units.resolution == pytest.approx(0.001)
    assert pynwb.validate(path=str(path)) == []


def test_stub_test_converts_only_the_first_entries(clean_session, tmp_path):
    truth = clean_session.truth
    spikes = BrandSpikeTimesInterface(file_path=str(clean_session.rdb_path), stream_name="thresh_cross")
    path = convert(
        [BrandParticipantInterface(file_path=str(clean_session.rdb_path)), spikes],
        tmp_path / "stub.nwb",
        BrandSpikeTimesInterface={"stub_test": True},
    )
    units = pynwb.read_nwb(path).units
    seconds = spikes.get_timestamps()
    for channel, entries in enumerate(truth.spike_entries("thresh_cross")):
        np.testing.assert_array_equal(units["spike_times"][channel], seconds[entries[entries < 1000]])
    assert units["obs_intervals"][0][0][1] == seconds[999]


def test_aligned_timestamps_move_the_spike_times(clean_session):
    truth = clean_session.truth
    spikes = BrandSpikeTimesInterface(file_path=str(clean_session.rdb_path), stream_name="thresh_cross")
    original = spikes.get_timestamps()
    spikes.set_aligned_starting_time(2.5)
    nwbfile = mock_NWBFile()
    with pytest.warns(UserWarning, match="placeholder electrodes"):
        spikes.add_to_nwbfile(nwbfile)
    entries = truth.spike_entries("thresh_cross")[5]
    np.testing.assert_allclose(nwbfile.units["spike_times"][5], original[entries] + 2.5)
    # Held in a spool file, not in memory, until the file is written.
    assert isinstance(nwbfile.units.spike_times.data, SpooledColumnIterator)
    assert len(nwbfile.units.spike_times.data) == sum(len(e) for e in truth.spike_entries("thresh_cross"))


def test_entries_with_several_samples_get_per_sample_times(redis_client, tmp_path):
    model = {
        "graph_name": "multi",
        "nodes": {
            "det": {"name": "det", "nickname": "det", "redis_outputs": {"xings": "xings"}, "parameters": {}}
        },
        "derivatives": {
            "exportNWB": {
                "parameters": {
                    "sync_key": "sync",
                    "time_key": "ts",
                    "sync_timing_hz": 1000,
                    "streams": {"xings": {"sync": ["i"], "rate": 100}},
                }
            }
        },
        "streams": {
            "xings": {
                "enable_nwb": True,
                "type_nwb": "Spike_Times",
                "source_nickname": "det",
                "crossings": {
                    "chan_per_stream": 3,
                    "samp_per_stream": 5,
                    "sample_type": "int8",
                    "nwb": {"crossings": "crossings"},
                },
            }
        },
    }
    redis_client.xadd("supergraph_stream", {"data": json.dumps(model)}, id="1700000000000-0")
    values = np.zeros((4, 5, 3), dtype=np.int8)
    values[0, 0, 0] = values[1, 3, 0] = 1
    values[2, 4, 2], values[3, 1, 1] = -1, 3  # any non-zero value is one spike (exportNWB's rule), in both
    for index in range(4):
        redis_client.xadd(
            "xings",
            {
                "crossings": values[index].tobytes(),
                "sync": json.dumps({"i": 10 * index}),
                "ts": np.uint64(5 + index).tobytes(),
            },
            id=f"{1700000000010 + 10 * index}-0",
        )
    spikes = BrandSpikeTimesInterface(
        file_path=redis_client.connection_pool.connection_kwargs["path"], stream_name="xings"
    )
    times, counts = spikes.read_spike_times()
    entry = spikes.get_timestamps()
    assert counts.tolist() == [2, 1, 1]
    np.testing.assert_allclose(
        times, [entry[0], entry[1] + 3 * 0.002, entry[3] + 0.002, entry[2] + 4 * 0.002]
    )
    assert spikes.sample_rate == pytest.approx(500.0)
    # The sorting agrees: one unit per channel (electrode rows 0..2: the only crossing stream), frames at the
    # sample rate (100 Hz entries x 5 samples): entry e, sample k is frame 5 e + k.
    sorting = BrandSortingExtractor(spikes.source_data["file_path"], "xings")
    assert sorting.get_sampling_frequency() == pytest.approx(500.0)
    assert sorting.get_unit_ids().tolist() == [0, 1, 2]
    assert [sorting.get_unit_spike_train(unit).tolist() for unit in range(3)] == [[0, 8], [16], [14]]
    for unit, unit_times in enumerate(np.split(times, np.cumsum(counts)[:-1])):
        np.testing.assert_allclose(sorting.get_unit_spike_train_in_seconds(unit), unit_times, atol=1e-9)
    del spikes, sorting


# ------------------------------------------------------------------------------- electrodes missing
def test_standalone_streams_create_placeholder_electrodes(split_session, tmp_path):
    rdb, truth = split_session
    interfaces = {
        f"thresh_cross_{a}": BrandSpikeTimesInterface(file_path=str(rdb), stream_name=f"thresh_cross_{a}")
        for a in (1, 2, 3)
    }
    with pytest.warns(UserWarning, match="placeholder electrodes"):
        path = convert(list(interfaces.values()), tmp_path / "alone.nwb")
    nwbfile = pynwb.read_nwb(path)
    assert len(nwbfile.electrodes) == 96
    assert set(np.asarray(nwbfile.electrodes["group_name"].data[:]).astype(str)) == {PLACEHOLDER_GROUP}
    assert np.asarray(nwbfile.units["electrodes"].target.data[:]).tolist() == list(range(96))
    for a, interface in interfaces.items():
        expected = expected_spike_times(interface, truth, a)
        unit = 32 * (int(a[-1]) - 1) + 7
        np.testing.assert_array_equal(nwbfile.units["spike_times"][unit], expected[7])


def test_participant_after_spike_interface_is_a_clear_error(clean_session, tmp_path):
    rdb = str(clean_session.rdb_path)
    pipe = [
        BrandSpikeTimesInterface(file_path=rdb, stream_name="thresh_cross"),
        BrandParticipantInterface(file_path=rdb),
    ]
    with (
        pytest.warns(UserWarning, match="placeholder"),
        pytest.raises(
            BrandError,
            match=re.escape(
                "the NWB file already has placeholder electrodes (group 'unknown array (placeholder)') that a "
                "SpikeTimes interface made, and its units link to them; add BrandParticipantInterface before the "
                "interfaces that need electrodes (SpikeTimes streams)."
            ),
        ),
    ):
        convert(pipe, tmp_path / "order.nwb")


def test_foreign_units_table_is_a_clear_error(clean_session):
    spikes = BrandSpikeTimesInterface(file_path=str(clean_session.rdb_path), stream_name="thresh_cross")
    nwbfile = mock_NWBFile()
    nwbfile.add_unit(spike_times=[0.1, 0.2])
    with (
        pytest.warns(UserWarning, match="placeholder"),
        pytest.raises(GraphError, match=r"units table lacks column\(s\)"),
    ):
        spikes.add_to_nwbfile(nwbfile)


# ---------------------------------------------------------------------------------- bad inputs
@pytest.fixture(scope="module")
def bad_entry_session(tmp_path_factory):
    """A session whose thresh_cross ends with one entry of 3 payload bytes."""

    def append_bad_entry(client, truth):
        last = truth.streams["thresh_cross"].ids[-1]
        sync = json.dumps({"nsp_idx_1": int(truth.streams["thresh_cross"].sync["nsp_idx_1"][-1]) + 1})
        fields = {"crossings": b"\x01\x00\x01", "sync": sync, "ts": np.uint64(1).tobytes()}
        client.xadd("thresh_cross", fields, id=f"{int(last[0]) + 1}-0")

    config = SessionConfig(duration_s=1.0, task=False, sbp=False, seed=4)
    return save_mutated_rdb(config, tmp_path_factory.mktemp("bad_entry"), append_bad_entry)


def test_bad_crossings_payload_raises_naming_stream_key_and_entry(bad_entry_session):
    rdb, truth = bad_entry_session
    last_ms = int(truth.streams["thresh_cross"].ids[-1, 0]) + 1
    with pytest.raises(
        StreamDecodeError,
        match=rf"stream 'thresh_cross', entry {last_ms}-0, key 'crossings': payload is 3 bytes",
    ):
        BrandSpikeTimesInterface(file_path=str(rdb), stream_name="thresh_cross").read_spike_times()


def test_bad_crossings_payload_is_skipped_with_a_count(bad_entry_session):
    rdb, truth = bad_entry_session
    with pytest.warns(UserWarning, match="skipped 1 entries"):
        spikes = BrandSpikeTimesInterface(file_path=str(rdb), stream_name="thresh_cross", on_bad_entry="skip")
        times, counts = spikes.read_spike_times()
    expected = expected_spike_times(spikes, truth, "thresh_cross")
    np.testing.assert_array_equal(times, np.concatenate(expected))
    assert counts.tolist() == [len(e) for e in expected]


@pytest.fixture(scope="module")
def unplaceable_session(tmp_path_factory):
    """Split arrays, no neural_ch_range in the latest supergraph, and a participant file with a third implant."""

    def drop_ranges(client, truth):
        def change(model):
            for node in model["nodes"].values():
                node["parameters"].pop("neural_ch_range", None)

        publish_supergraph(client, truth, change)

    folder = tmp_path_factory.mktemp("unplaceable")
    rdb, truth = save_mutated_rdb(
        SessionConfig(duration_s=1.0, split_arrays=True, task=False, sbp=False), folder, drop_ranges
    )
    text = truth.participant_file.read_text()
    extra = truth.participant_file.parent / "three_implants.yaml"
    extra.write_text(text + "- {name: array 3, location: area 55b, device: NeuroPort8x8, connector: C}\n")
    return rdb, truth, extra


def test_unplaceable_stream_raises_suggesting_electrode_offset(unplaceable_session, tmp_path):
    rdb, _, participant_file = unplaceable_session
    participant = BrandParticipantInterface(participant_file=str(participant_file), file_path=str(rdb))
    spikes = BrandSpikeTimesInterface(file_path=str(rdb), stream_name="thresh_cross_2")
    nwbfile = mock_NWBFile()
    participant.add_to_nwbfile(nwbfile, parameter_columns=False)
    with pytest.raises(
        GraphError, match=r"cannot tell which electrodes stream 'thresh_cross_2' .* electrode_offset="
    ):
        spikes.add_to_nwbfile(nwbfile)


def test_electrode_offset_places_an_unplaceable_stream(unplaceable_session):
    rdb, truth, participant_file = unplaceable_session
    participant = BrandParticipantInterface(participant_file=str(participant_file), file_path=str(rdb))
    spikes = BrandSpikeTimesInterface(file_path=str(rdb), stream_name="thresh_cross_2", electrode_offset=128)
    nwbfile = mock_NWBFile()
    participant.add_to_nwbfile(nwbfile, parameter_columns=False)
    spikes.add_to_nwbfile(nwbfile)
    assert np.asarray(nwbfile.units["electrodes"].target.data[:]).tolist() == list(range(128, 192))
    assert nwbfile.units["electrode_group"][0].name == "array 3"
    expected = expected_spike_times(spikes, truth, "thresh_cross_2")
    np.testing.assert_array_equal(nwbfile.units["spike_times"][9], expected[9])


def test_electrodes_option_of_the_wrong_length_fails_at_construction(unplaceable_session):
    rdb, _, _ = unplaceable_session
    with pytest.raises(GraphError, match="'thresh_cross_2' has 64 channels but electrodes= lists 3 rows"):
        BrandSpikeTimesInterface(file_path=str(rdb), stream_name="thresh_cross_2", electrodes=[1, 2, 3])


def test_stream_without_crossings_key_is_a_graph_error(tmp_path):
    def no_crossings(client, truth):
        def change(model):
            model["streams"]["thresh_cross"]["crossings"]["nwb"] = {"description": "no crossings"}

        publish_supergraph(client, truth, change)

    rdb, _ = save_mutated_rdb(
        SessionConfig(duration_s=0.5, task=False, sbp=False), tmp_path / "s", no_crossings
    )
    with pytest.raises(GraphError, match="no key's nwb block names the crossings key"):
        BrandSpikeTimesInterface(file_path=str(rdb), stream_name="thresh_cross")


def test_registry_maps_spike_times():
    assert interface_class_for("SpikeTimes") is BrandSpikeTimesInterface


def test_nwbinspector_reports_nothing_at_best_practice_violation(split_session, tmp_path):
    rdb, _ = split_session
    interfaces = [BrandParticipantInterface(file_path=str(rdb))]
    interfaces += [
        BrandSpikeTimesInterface(file_path=str(rdb), stream_name=f"thresh_cross_{a}") for a in (1, 2, 3)
    ]
    path = convert(interfaces, tmp_path / "inspect.nwb")
    messages = list(
        inspect_nwbfile(
            str(path), config=load_config("dandi"), importance_threshold=Importance.BEST_PRACTICE_VIOLATION
        )
    )
    assert messages == []


# --------------------------------------------------------------------------------------- mixins
class TestSpikeTimesInterfaceMixins(DataInterfaceTestMixin, TemporalAlignmentMixin):
    data_interface_cls = BrandSpikeTimesInterface
    interface_kwargs: dict = {}

    @pytest.fixture(autouse=True)
    def _session(self, clean_session):
        type(self).interface_kwargs = dict(file_path=str(clean_session.rdb_path), stream_name="thresh_cross")
        self.truth = clean_session.truth
        warnings.filterwarnings("ignore", message=".*placeholder electrodes.*")

    def check_read_nwb(self, nwbfile_path: str):
        nwbfile = pynwb.read_nwb(nwbfile_path)
        expected = expected_spike_times(self.interface, self.truth, "thresh_cross")
        assert len(nwbfile.units) == len(expected) == 128
        for channel in (0, 64, 127):
            np.testing.assert_array_equal(nwbfile.units["spike_times"][channel], expected[channel])
