"""Alignment reaches every table (clock tables, trials, TrialInfo columns) and no time is before the session start."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from nwbinspector import Importance, inspect_nwbfile, load_config
from pynwb import read_nwb

from neuroconv_brand import BrandConverter
from neuroconv_brand.interfaces.base import session_start_ms
from neuroconv_brand.timing.clocks import session_start_datetime

SUBJECT = {"species": "Homo sapiens", "sex": "F", "age": "P52Y"}


def convert(converter: BrandConverter, path, metadata=None):
    metadata = metadata if metadata is not None else converter.get_metadata()
    metadata["Subject"].update(SUBJECT)
    converter.run_conversion(nwbfile_path=path, metadata=metadata)
    return read_nwb(path)


def clock_column(nwbfile, stream: str, column: str) -> np.ndarray:
    return np.asarray(nwbfile.processing["brand_timestamps"][f"{stream}_ts"][column][:])


def trial_info_columns(nwbfile) -> dict[str, np.ndarray]:
    return {
        name: np.asarray(nwbfile.trials[name][:])
        for name in nwbfile.trials.colnames
        if name.startswith("trial_info_")
    }


@pytest.fixture
def baseline(clean_session, tmp_path):
    """The session's sbp, Trial and TrialInfo streams converted without any alignment."""
    converter = BrandConverter(file_path=clean_session.rdb_path, streams=["sbp", "state", "trial_info"])
    return convert(converter, tmp_path / "baseline.nwb")


def test_aligning_a_stream_moves_its_clock_table(clean_session, baseline, tmp_path):
    converter = BrandConverter(file_path=clean_session.rdb_path, streams=["sbp", "state", "trial_info"])
    metadata = converter.get_metadata()
    sbp = converter.data_interface_objects["sbp"]
    sbp.set_aligned_starting_time(2.5)
    nwbfile = convert(converter, tmp_path / "aligned.nwb", metadata)
    np.testing.assert_allclose(
        clock_column(nwbfile, "sbp", "session_time"), clock_column(baseline, "sbp", "session_time") + 2.5
    )
    assert nwbfile.acquisition["sbp_samples"].starting_time == pytest.approx(
        baseline.acquisition["sbp_samples"].starting_time + 2.5
    )
    # the other clocks of the entries and the other streams stay
    np.testing.assert_array_equal(
        clock_column(nwbfile, "sbp", "redis_time"), clock_column(baseline, "sbp", "redis_time")
    )
    np.testing.assert_array_equal(nwbfile.trials["start_time"][:], baseline.trials["start_time"][:])


def test_aligning_the_trial_stream_moves_trials_its_clock_table_and_keeps_trial_info_with_its_trials(
    clean_session, baseline, tmp_path
):
    converter = BrandConverter(file_path=clean_session.rdb_path, streams=["sbp", "state", "trial_info"])
    metadata = converter.get_metadata()
    trials = converter.data_interface_objects["state"]
    times = trials.get_timestamps()
    trials.align_by_interpolation(unaligned_timestamps=times, aligned_timestamps=times * 1.01 + 0.5)
    nwbfile = convert(converter, tmp_path / "aligned.nwb", metadata)
    np.testing.assert_allclose(nwbfile.trials["start_time"][:], baseline.trials["start_time"][:] * 1.01 + 0.5)
    np.testing.assert_allclose(nwbfile.trials["stop_time"][:], baseline.trials["stop_time"][:] * 1.01 + 0.5)
    np.testing.assert_allclose(
        clock_column(nwbfile, "state", "session_time"),
        clock_column(baseline, "state", "session_time") * 1.01 + 0.5,
    )
    expected = trial_info_columns(baseline)
    assert expected and not all(np.isnan(np.asarray(v, dtype=float)).all() for v in expected.values())
    for name, values in trial_info_columns(nwbfile).items():
        np.testing.assert_array_equal(values, expected[name])


def test_converter_shift_moves_everything_together(clean_session, baseline, tmp_path):
    converter = BrandConverter(file_path=clean_session.rdb_path, streams=["sbp", "state", "trial_info"])
    metadata = converter.get_metadata()
    converter.shift_times(1.25)
    nwbfile = convert(converter, tmp_path / "shifted.nwb", metadata)
    assert nwbfile.session_start_time == baseline.session_start_time
    for stream in ("sbp", "state", "trial_info"):
        for column in ("session_time", "redis_time", "monotonic_time"):
            np.testing.assert_allclose(
                clock_column(nwbfile, stream, column), clock_column(baseline, stream, column) + 1.25
            )
        # the writer's own clock is not a session time
        np.testing.assert_array_equal(
            clock_column(nwbfile, stream, "monotonic_clock"),
            clock_column(baseline, stream, "monotonic_clock"),
        )
    np.testing.assert_allclose(nwbfile.trials["start_time"][:], baseline.trials["start_time"][:] + 1.25)
    for name, values in trial_info_columns(nwbfile).items():
        np.testing.assert_array_equal(values, trial_info_columns(baseline)[name])
    assert nwbfile.acquisition["sbp_samples"].starting_time == pytest.approx(
        baseline.acquisition["sbp_samples"].starting_time + 1.25
    )


def test_session_starts_at_the_earliest_time_written_and_nwbinspector_is_clean(hazard_session, tmp_path):
    converter = BrandConverter(file_path=hazard_session.rdb_path)
    first_entry_start = session_start_datetime(
        session_start_ms(
            converter.data_interface_objects["sbp"].session, converter.data_interface_objects["sbp"].graph
        )
    )
    metadata = converter.get_metadata()
    # the first sync-clock times (cursorData) and monotonic stamps lie ~15 ms before the first entry id
    offset = (first_entry_start - metadata["NWBFile"]["session_start_time"]).total_seconds()
    assert 0.01 < offset < 0.05
    path = tmp_path / "session.nwb"
    nwbfile = convert(converter, path, metadata)
    assert converter.start_shift_s == pytest.approx(offset, abs=1e-6)  # every time moved as much as the start
    assert nwbfile.session_start_time == first_entry_start - timedelta(seconds=offset)
    earliest = min(
        float(np.nanmin(clock_column(nwbfile, name[: -len("_ts")], column)))
        for name in nwbfile.processing["brand_timestamps"].data_interfaces
        for column in ("session_time", "redis_time", "monotonic_time")
        if not np.isnan(clock_column(nwbfile, name[: -len("_ts")], column)).all()
    )
    assert 0 <= earliest < 1e-5
    messages = list(inspect_nwbfile(path, config=load_config("dandi")))
    serious = [m for m in messages if m.importance.value >= Importance.BEST_PRACTICE_VIOLATION.value]
    negative = [m for m in messages if "negative" in m.check_function_name]
    assert serious == [] and negative == [], [m.message for m in serious + negative]


def test_a_negative_shift_after_get_metadata_moves_the_start_back(clean_session, baseline, tmp_path):
    converter = BrandConverter(file_path=clean_session.rdb_path, streams=["sbp", "state", "trial_info"])
    metadata = converter.get_metadata()
    start = metadata["NWBFile"]["session_start_time"]
    converter.shift_times(-3.0)
    nwbfile = convert(converter, tmp_path / "early.nwb", metadata)
    assert nwbfile.session_start_time == start - timedelta(seconds=3.0)
    assert metadata["NWBFile"]["session_start_time"] == start - timedelta(seconds=3.0)
    np.testing.assert_allclose(
        clock_column(nwbfile, "sbp", "session_time"), clock_column(baseline, "sbp", "session_time")
    )
