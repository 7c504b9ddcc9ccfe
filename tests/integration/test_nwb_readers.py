"""A converted session read with the clients labs use: neo, pynapple and SpikeInterface (values against the truth).

A 1 s session with 2 Utah arrays of 128 electrodes (Blackrock ``.cmp`` maps), 256 threshold-crossing units and
the raw 30 kHz stream.
"""

import neo
import numpy as np
import pynapple as nap
import pytest
import spikeinterface.extractors as extractors
from pynwb import read_nwb

from neuroconv_brand import BrandConverter
from neuroconv_brand.interfaces.position import BrandPositionInterface
from neuroconv_brand.testing import SessionConfig, save_session_rdb

SUBJECT = {"species": "Homo sapiens", "sex": "M", "age": "P45Y"}


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    folder = tmp_path_factory.mktemp("readers")
    config = SessionConfig(
        duration_s=1.0, n_arrays=2, channels_per_array=128, raw=True, array_map_format="cmp", seed=8
    )
    truth = save_session_rdb(config, folder / "t0_readers.rdb", folder)
    return folder, truth


def convert(session, name: str, **options) -> str:
    folder, _ = session
    converter = BrandConverter(file_path=folder / "t0_readers.rdb", **options.pop("source", {}))
    metadata = converter.get_metadata()
    metadata["Subject"].update(SUBJECT)
    path = folder / name
    converter.run_conversion(nwbfile_path=path, metadata=metadata, overwrite=True, **options)
    return str(path)


@pytest.fixture(scope="module")
def raw_file(session) -> str:
    """The session with its raw stream (exportNWB's layout otherwise)."""
    return convert(session, "with_raw.nwb", source={"include_raw": True})


@pytest.fixture(scope="module")
def neo_file(session) -> str:
    """The session as neo reads it: Position containers in processing/behavior, no raw stream (see docs)."""
    converter = BrandConverter(file_path=session[0] / "t0_readers.rdb")
    options = {
        name: {"parent_container": "processing/behavior"}
        for name, interface in converter.data_interface_objects.items()
        if isinstance(interface, BrandPositionInterface)
    }
    assert set(options) == {"cursorData", "targetData"}
    return convert(session, "for_neo.nwb", conversion_options=options)


def crossing_counts(truth) -> list[int]:
    return [len(entries) for entries in truth.spike_entries("thresh_cross")]


def test_neo_reads_the_signals_and_256_spike_trains(session, neo_file):
    _, truth = session
    blocks = neo.io.NWBIO(neo_file, mode="r").read()
    assert len(blocks) == 1 and len(blocks[0].segments) == 1
    segment = blocks[0].segments[0]
    signals = {signal.name: signal for signal in segment.analogsignals}
    assert sorted(signals) == ["binned_spikes_samples", "sbp_samples"]
    sbp = truth.streams["sbp"].fields["samples"]
    np.testing.assert_array_equal(np.asarray(signals["sbp_samples"].magnitude), sbp.reshape(len(sbp), -1))
    assert float(signals["sbp_samples"].sampling_rate) == 1000.0

    units = read_nwb(neo_file).units
    assert len(segment.spiketrains) == len(units) == 256
    assert [len(train) for train in segment.spiketrains] == crossing_counts(truth)
    for index in (0, 127, 128, 255):
        np.testing.assert_allclose(
            segment.spiketrains[index].times.rescale("s").magnitude, units["spike_times"][index]
        )
    assert read_nwb(neo_file).processing["behavior"]["cursorData"]["X"].data.shape[0] > 0


def test_pynapple_reads_units_signals_positions_and_trials(session, raw_file):
    _, truth = session
    data = nap.load_file(raw_file)
    units = data["units"]
    assert len(units) == 256
    assert [len(units[index]) for index in units.keys()] == crossing_counts(truth)
    raw = truth.streams["nsp_neural"].fields["samples"]
    np.testing.assert_array_equal(data["nsp_neural_samples"].values, raw.reshape(-1, raw.shape[-1]))
    sbp = truth.streams["sbp"].fields["samples"]
    np.testing.assert_array_equal(data["sbp_samples"].values, sbp.reshape(len(sbp), -1))
    assert len(data["trials"]) == len(truth.trials)
    assert data["cursorData/X"].shape[0] == truth.streams["cursorData"].n_entries


def test_spikeinterface_reads_the_recording_its_probe_and_the_sorting(session, raw_file):
    _, truth = session
    series = "acquisition/nsp_neural_samples"
    recording = extractors.read_nwb_recording(raw_file, electrical_series_path=series)
    raw = truth.streams["nsp_neural"].fields["samples"].reshape(-1, 256)
    assert (recording.get_sampling_frequency(), recording.get_num_samples()) == (30000.0, len(raw))
    np.testing.assert_array_equal(recording.get_traces(), raw)
    np.testing.assert_array_equal(recording.get_channel_gains(), np.full(256, 0.25))
    # the probe SpikeInterface builds from rel_x/rel_y: one per implant, at the .cmp positions
    probes = recording.get_probegroup().probes
    assert [len(probe.contact_positions) for probe in probes] == [128, 128]
    truth_xy = np.array([electrode.position[:2] for electrode in truth.electrodes])
    np.testing.assert_array_equal(recording.get_channel_locations(), truth_xy)
    assert list(recording.get_property("label")) == [electrode.label for electrode in truth.electrodes]

    sorting = extractors.read_nwb_sorting(raw_file, electrical_series_path=series)
    sorting.register_recording(recording)
    assert sorting.get_num_units() == 256 and sorting.get_sampling_frequency() == 30000.0
    nwbfile = read_nwb(raw_file)
    units = nwbfile.units
    t_start = nwbfile.acquisition["nsp_neural_samples"].starting_time
    for index in (0, 255):
        unit = sorting.unit_ids[index]
        frames = sorting.get_unit_spike_train(unit)
        assert len(frames) == crossing_counts(truth)[index]
        # 1 kHz crossings on the 30 kHz sample grid: frame = (time - t_start) * 30000
        expected = np.round((np.asarray(units["spike_times"][index]) - t_start) * 30000)
        np.testing.assert_array_equal(frames, expected)
