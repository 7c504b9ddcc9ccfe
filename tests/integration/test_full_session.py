"""A whole BRAND session through BrandConverter: valid NWB, clean nwbinspector, same content in HDF5 and Zarr."""

import numpy as np
import pytest
from nwbinspector import Importance, inspect_nwbfile, load_config
from pynwb import NWBHDF5IO, read_nwb, validate

from neuroconv_brand import BrandConverter
from neuroconv_brand.testing import SessionConfig, save_session_rdb


def convert(saved, path, backend="hdf5"):
    truth = saved.truth
    converter = BrandConverter(
        file_path=saved.rdb_path, participant_file=truth.participant_file, devices_file=truth.devices_file
    )
    metadata = converter.get_metadata()
    metadata["Subject"].update(species="Homo sapiens", sex="M", age="P40Y")
    metadata["NWBFile"]["identifier"] = "full-session"
    converter.run_conversion(nwbfile_path=path, metadata=metadata, backend=backend)
    return path


@pytest.fixture(scope="module")
def hazard_nwb(hazard_session, tmp_path_factory):
    return convert(hazard_session, tmp_path_factory.mktemp("full") / "hazards.nwb")


def test_every_mechanism_is_written(hazard_nwb, hazard_session):
    nwbfile = read_nwb(hazard_nwb)
    truth = hazard_session.truth
    assert {"sbp_samples", "binned_spikes_samples", "cursorData", "targetData"} <= set(nwbfile.acquisition)
    assert len(nwbfile.trials) == len(truth.trials)
    assert len(nwbfile.electrodes) == len(truth.electrodes)
    assert len(nwbfile.units) == truth.streams["thresh_cross"].fields["crossings"].shape[-1]
    assert nwbfile.subject.subject_id == truth.config.participant_id


def test_pynwb_validation_finds_no_error(hazard_nwb):
    with NWBHDF5IO(str(hazard_nwb), "r") as io:
        errors = validate(io=io)
    assert errors == []


def test_nwbinspector_dandi_finds_nothing_serious(hazard_nwb):
    messages = list(
        inspect_nwbfile(
            hazard_nwb, config=load_config("dandi"), importance_threshold=Importance.BEST_PRACTICE_VIOLATION
        )
    )
    assert messages == [], "\n".join(f"{m.location}: {m.message}" for m in messages)


def test_zarr_file_has_the_same_content(hazard_nwb, hazard_session, tmp_path, read_zarr_in_fresh_process):
    path = convert(hazard_session, tmp_path / "hazards.nwb.zarr", backend="zarr")
    zarr_file = read_nwb(path)
    hdf5_file = read_nwb(hazard_nwb)
    seen = read_zarr_in_fresh_process(path)  # default numcodecs settings: no pickled references
    assert seen["electrode_groups"] == [group.name for group in hdf5_file.electrodes["group"][:]]
    assert seen["acquisition"] == sorted(hdf5_file.acquisition) and seen["units"] == len(hdf5_file.units)
    for name in ("sbp_samples", "binned_spikes_samples"):
        np.testing.assert_array_equal(
            zarr_file.acquisition[name].data[:], hdf5_file.acquisition[name].data[:]
        )
    np.testing.assert_array_equal(zarr_file.trials["start_time"][:], hdf5_file.trials["start_time"][:])
    for unit in range(len(hdf5_file.units)):
        np.testing.assert_array_equal(
            zarr_file.units.get_unit_spike_times(unit), hdf5_file.units.get_unit_spike_times(unit)
        )


def test_find_reset_stream_without_a_reset_keeps_everything(tmp_path):
    # exportNWB cut every stream at the reset stream's first entry when find_reset_stream was set and no reset
    # happened, losing the first 9-13 entries of 1 kHz streams and their spikes.
    folder = tmp_path / "session"
    rdb_path = folder / "session.rdb"
    truth = save_session_rdb(SessionConfig(duration_s=3.0, seed=5, find_reset_stream=True), rdb_path, folder)
    assert truth.supergraph["derivatives"]
    converter = BrandConverter(
        file_path=rdb_path, participant_file=truth.participant_file, devices_file=truth.devices_file
    )
    path = tmp_path / "session.nwb"
    converter.run_conversion(nwbfile_path=path)
    nwbfile = read_nwb(path)
    assert nwbfile.acquisition["sbp_samples"].data.shape[0] == len(truth.streams["sbp"].ids)
    crossings = truth.streams["thresh_cross"].fields["crossings"][:, 0, :]
    spike_counts = [len(nwbfile.units.get_unit_spike_times(unit)) for unit in range(len(nwbfile.units))]
    assert spike_counts == (crossings != 0).sum(axis=0).tolist()
