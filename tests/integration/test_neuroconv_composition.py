"""Our interfaces in converters with stock NeuroConv interfaces: a SpikeInterface-backed recording that adds
electrodes, and CsvTimeIntervalsInterface next to BrandTrialsInterface (trials columns and epochs)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pynwb
import pytest
from neuroconv import ConverterPipe, NWBConverter
from neuroconv.datainterfaces import CsvTimeIntervalsInterface, WhiteMatterRecordingInterface

from neuroconv_brand import BrandParticipantInterface, BrandTrialsInterface
from neuroconv_brand.errors import GraphError

SUBJECT = {"species": "Homo sapiens", "sex": "F", "age": "P52Y"}
#: The recording's channels: electrodes 0-3 of "array 1" (shared with the participant) and two of its own.
CHANNEL_GROUPS = ["array 1"] * 4 + ["headstage"] * 2
CHANNEL_NAMES = ["0", "1", "2", "3", "0", "1"]
SAMPLES = 3000


@pytest.fixture
def stock_files(clean_session, tmp_path) -> dict[str, Path]:
    """A 6-channel int16 recording (raw binary, as WhiteMatter writes), a trials CSV and an epochs CSV."""
    samples = (np.arange(SAMPLES * 6).reshape(SAMPLES, 6) % 1000).astype("<i2")
    samples.tofile(tmp_path / "recording.bin")
    trials = BrandTrialsInterface(file_path=str(clean_session.rdb_path), stream_name="state").compute_trials()
    pd.DataFrame(
        {
            "start_time": trials.start_time,
            "stop_time": trials.stop_time,
            "condition": [f"target {i % 8}" for i in range(len(trials))],
        }
    ).to_csv(tmp_path / "trials.csv", index=False)
    pd.DataFrame({"start_time": [0.0, 1.5], "stop_time": [1.5, 3.5], "label": ["rest", "task"]}).to_csv(
        tmp_path / "epochs.csv", index=False
    )
    return {name: tmp_path / name for name in ("recording.bin", "trials.csv", "epochs.csv")}


def stock_recording(path: Path) -> WhiteMatterRecordingInterface:
    """The recording, its channels named as NeuroConv matches electrode rows (group_name + channel_name)."""
    interface = WhiteMatterRecordingInterface(file_path=path, sampling_frequency=30000.0, num_channels=6)
    interface.recording_extractor.set_property("group_name", np.array(CHANNEL_GROUPS))
    interface.recording_extractor.set_property("channel_name", np.array(CHANNEL_NAMES))
    return interface


def with_epochs(metadata: dict) -> dict:
    metadata["Subject"].update(SUBJECT)
    metadata["TimeIntervals"]["epochs"] = dict(table_name="epochs", table_description="Rest and task epochs.")
    return metadata


def check_file(path: Path, clean_session) -> None:
    with pynwb.NWBHDF5IO(path, "r") as io:
        nwbfile = io.read()
        electrodes = nwbfile.electrodes.to_dataframe()
        # 128 participant rows + the recording's 2 headstage channels: the 4 shared channels are not duplicated
        assert len(electrodes) == 130
        keys = list(zip(electrodes["group_name"], electrodes["channel_name"]))
        assert len(set(keys)) == 130
        truth = clean_session.truth.electrodes
        shared = electrodes[electrodes["group_name"] == "array 1"].set_index("channel_name")
        assert shared.loc[["0", "1", "2", "3"], "location"].tolist() == [truth[i].location for i in range(4)]
        headstage = electrodes[electrodes["group_name"] == "headstage"]
        assert headstage["channel_name"].tolist() == ["0", "1"] and headstage["mask"].isna().all()
        series = nwbfile.acquisition["ElectricalSeries"]
        rows = series.electrodes.data[:]
        assert [keys[row] for row in rows] == list(zip(CHANNEL_GROUPS, CHANNEL_NAMES))
        assert series.data.shape[1] == 6
        trials = nwbfile.trials.to_dataframe()
        expected = BrandTrialsInterface(
            file_path=str(clean_session.rdb_path), stream_name="state"
        ).compute_trials()
        np.testing.assert_array_equal(trials["start_time"], expected.start_time)
        assert trials["condition"].tolist()[:3] == ["target 0", "target 1", "target 2"]
        np.testing.assert_array_equal(trials["go_cue_time"], expected.events["go_cue_time"])
        epochs = nwbfile.epochs.to_dataframe()
        assert epochs["label"].tolist() == ["rest", "task"] and epochs["stop_time"].tolist() == [1.5, 3.5]


@pytest.mark.parametrize("participant_first", [True, False], ids=["participant-first", "recording-first"])
def test_converter_pipe_mixes_brand_and_stock_interfaces(
    clean_session, stock_files, tmp_path, participant_first
):
    participant = BrandParticipantInterface(file_path=str(clean_session.rdb_path))
    recording = stock_recording(stock_files["recording.bin"])
    electrodes = [participant, recording] if participant_first else [recording, participant]
    converter = ConverterPipe(
        data_interfaces={
            "TrialColumns": CsvTimeIntervalsInterface(file_path=stock_files["trials.csv"]),
            "Epochs": CsvTimeIntervalsInterface(file_path=stock_files["epochs.csv"]),
            "First": electrodes[0],
            "Second": electrodes[1],
            "Trials": BrandTrialsInterface(file_path=str(clean_session.rdb_path), stream_name="state"),
        }
    )
    metadata = with_epochs(converter.get_metadata())
    path = tmp_path / "pipe.nwb"
    converter.run_conversion(
        nwbfile_path=path, metadata=metadata, conversion_options={"Epochs": {"tag": "epochs"}}, overwrite=True
    )
    check_file(path, clean_session)


class LabConverter(NWBConverter):
    """A lab's converter: BRAND's participant and trials, the NSP recording and notebook tables."""

    data_interface_classes = dict(
        Recording=WhiteMatterRecordingInterface,
        Participant=BrandParticipantInterface,
        TrialColumns=CsvTimeIntervalsInterface,
        Trials=BrandTrialsInterface,
        Epochs=CsvTimeIntervalsInterface,
    )

    def __init__(self, source_data: dict[str, dict], verbose: bool = False):
        super().__init__(source_data=source_data, verbose=verbose)
        extractor = self.data_interface_objects["Recording"].recording_extractor
        extractor.set_property("group_name", np.array(CHANNEL_GROUPS))
        extractor.set_property("channel_name", np.array(CHANNEL_NAMES))


def test_nwbconverter_subclass_mixes_brand_and_stock_interfaces(clean_session, stock_files, tmp_path):
    rdb = str(clean_session.rdb_path)
    converter = LabConverter(
        source_data=dict(
            Recording=dict(
                file_path=str(stock_files["recording.bin"]), sampling_frequency=30000.0, num_channels=6
            ),
            Participant=dict(file_path=rdb),
            TrialColumns=dict(file_path=str(stock_files["trials.csv"])),
            Trials=dict(file_path=rdb, stream_name="state"),
            Epochs=dict(file_path=str(stock_files["epochs.csv"])),
        )
    )
    metadata = with_epochs(converter.get_metadata())
    path = tmp_path / "lab.nwb"
    converter.run_conversion(
        nwbfile_path=path, metadata=metadata, conversion_options={"Epochs": {"tag": "epochs"}}, overwrite=True
    )
    check_file(path, clean_session)


def test_trials_columns_for_other_trials_are_a_clear_error(clean_session, tmp_path):
    pd.DataFrame({"start_time": [0.0, 1.0], "stop_time": [1.0, 2.0], "x": [1, 2]}).to_csv(
        tmp_path / "other.csv", index=False
    )
    converter = ConverterPipe(
        data_interfaces={
            "TrialColumns": CsvTimeIntervalsInterface(file_path=tmp_path / "other.csv"),
            "Trials": BrandTrialsInterface(file_path=str(clean_session.rdb_path), stream_name="state"),
        }
    )
    metadata = converter.get_metadata()
    with pytest.raises(GraphError) as error:
        converter.create_nwbfile(metadata=metadata)
    n_trials = len(
        BrandTrialsInterface(file_path=str(clean_session.rdb_path), stream_name="state").compute_trials()
    )
    assert str(error.value) == (
        f"stream 'state': the NWB file already has a trials table (2 trials) whose start_time differs from this "
        f"stream's {n_trials} trials (by more than 1 ms). Columns from another interface (e.g. "
        "CsvTimeIntervalsInterface) can join the Trial stream's only for the same trials, on the session clock; "
        "write them as another table (its 'tag') otherwise."
    )


def trials_yaml(session_folder: Path, stock_files: dict[str, Path], with_epochs: bool) -> str:
    """A specification with CsvTimeIntervalsInterface (trials columns, and epochs) next to BrandTrialsInterface."""
    rdb = session_folder / "t0_231114T2213_clean.rdb"
    epochs = (
        f"""
          epochs: {{file_path: {stock_files["epochs.csv"]}}}"""
        if with_epochs
        else ""
    )
    return f"""
data_interfaces:
  trial_columns: CsvTimeIntervalsInterface
  trials: BrandTrialsInterface
  epochs: CsvTimeIntervalsInterface
experiments:
  task:
    sessions:
      - nwbfile_name: composed
        source_data:
          trial_columns: {{file_path: {stock_files["trials.csv"]}}}
          trials: {{file_path: {rdb}, stream_name: state}}{epochs}
        conversion_options:
          {"epochs: {tag: epochs}" if with_epochs else "{}"}
        metadata:
          NWBFile: {{session_description: A BRAND cursor task.}}
          Subject: {{subject_id: t0, species: Homo sapiens, sex: F, age: P52Y}}
          {"TimeIntervals: {epochs: {table_name: epochs, table_description: Rest and task epochs.}}" if with_epochs else ""}
"""


def check_trials(path: Path, clean_session, with_epochs: bool) -> None:
    nwbfile = pynwb.read_nwb(path)
    trials = nwbfile.trials.to_dataframe()
    expected = BrandTrialsInterface(
        file_path=str(clean_session.rdb_path), stream_name="state"
    ).compute_trials()
    np.testing.assert_array_equal(trials["start_time"], expected.start_time)
    np.testing.assert_array_equal(trials["go_cue_time"], expected.events["go_cue_time"])
    assert trials["condition"].tolist()[:2] == ["target 0", "target 1"]
    if with_epochs:
        assert nwbfile.epochs.to_dataframe()["label"].tolist() == ["rest", "task"]


def test_our_yaml_runner_composes_csv_intervals_and_brand_trials(clean_session, stock_files, tmp_path):
    from neuroconv_brand.apps.yaml_runner import run_conversion_from_yaml

    spec = tmp_path / "spec.yml"
    spec.write_text(trials_yaml(clean_session.folder, stock_files, with_epochs=True))
    summary = run_conversion_from_yaml(
        spec, data_folder_path=clean_session.folder, output_folder_path=tmp_path / "out"
    )
    assert summary.ok, summary
    check_trials(tmp_path / "out" / "composed.nwb", clean_session, with_epochs=True)


@pytest.mark.skipif(
    importlib.util.find_spec("dandi") is None,
    reason="NeuroConv's run_conversion_from_yaml imports dandi, which is not installed (pip install 'neuroconv[dandi]')",
)
def test_neuroconv_yaml_runner_composes_csv_trials_columns_and_brand_trials(
    clean_session, stock_files, tmp_path
):
    from neuroconv import run_conversion_from_yaml

    from neuroconv_brand.apps.neuroconv_registration import register_with_neuroconv

    register_with_neuroconv()
    spec = tmp_path / "spec.yml"
    # NeuroConv's runner takes no TimeIntervals metadata, so no epochs table (its tag needs one) here.
    spec.write_text(trials_yaml(clean_session.folder, stock_files, with_epochs=False))
    run_conversion_from_yaml(spec, data_folder_path=clean_session.folder, output_folder_path=tmp_path / "out")
    check_trials(tmp_path / "out" / "composed.nwb", clean_session, with_epochs=False)
