"""The YAML specification runner on synthetic BRAND sessions: values against the generator's truth, metadata and
option precedence, parallel and Dask execution, per-session failures, NeuroConv's own runner, and every example of
docs/yaml-specification.md."""

import contextlib
import importlib.util
import io
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml
from neuroconv import NWBConverter
from pynwb import read_nwb

from neuroconv_brand import BrandConverter
from neuroconv_brand.apps.neuroconv_registration import register_with_neuroconv
from neuroconv_brand.apps.yaml_jobs import resolve_conversion_options
from neuroconv_brand.apps.yaml_runner import run_conversion_from_yaml
from neuroconv_brand.apps.yaml_specification import plan_conversion
from neuroconv_brand.interfaces.base import STUB_ENTRIES
from neuroconv_brand.testing import SessionConfig, save_session_rdb

DOC = Path(__file__).parents[2] / "docs" / "yaml-specification.md"
RDB_1 = "2023-11-14/t0_231114T2213_cursor.rdb"
RDB_2 = "2023-11-15/t0_231115T1010_cursor.rdb"


@dataclass(frozen=True)
class Archive:
    """Two 3 s sessions (different seeds) in the layout of docs/yaml-specification.md."""

    data: Path
    truths: dict  # relative rdb path -> SyntheticSession


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Archive:
    data = tmp_path_factory.mktemp("yaml_runner") / "data"
    truths = {
        relative: save_session_rdb(SessionConfig(duration_s=3.0, seed=seed), data / relative, data)
        for relative, seed in ((RDB_1, 21), (RDB_2, 22))
    }
    return Archive(data, truths)


def samples(truth, stream: str) -> np.ndarray:
    values = truth.streams[stream].fields["samples"]
    return values.reshape(len(values), -1)


def mock_data(num_channels: int, sampling_frequency: float, duration: float, seed: int) -> np.ndarray:
    """MockTimeSeriesInterface's documented data: seeded standard normal samples, float32."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal(size=(int(duration * sampling_frequency), num_channels)).astype("float32")


def write_spec(folder: Path, text: str, name: str = "spec.yml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


TWO_SESSIONS_AND_A_BROKEN_ONE = f"""
metadata:
  NWBFile: {{lab: Global Lab, institution: Global Institute, session_description: global description, keywords: [BCI]}}
  Subject: {{species: Homo sapiens, sex: M, age: P45Y}}
conversion_options: {{stub_test: true}}
data_interfaces:
  mock: neuroconv.tools.testing:MockTimeSeriesInterface
  brand: BrandConverter
experiments:
  cursor_task:
    metadata:
      NWBFile: {{lab: Experiment Lab, experiment_description: cursor experiment}}
      TimeSeries:
        sbp_samples: {{description: experiment sbp description}}
    sessions:
      - source_data:
          brand: {{file_path: {RDB_1}, participant_file: config/t0/t0.yaml, devices_file: config/devices.yaml}}
          mock: {{num_channels: 3, sampling_frequency: 100.0, duration: 0.5, seed: 7}}
        conversion_options:
          brand: {{sbp: {{stub_test: false}}}}
        metadata:
          NWBFile: {{lab: Session Lab, keywords: [cursor]}}
          Subject: {{subject_id: t0-a}}
          TimeSeries:
            sbp_samples: {{description: session sbp description}}
            TimeSeries: {{name: mock_series, description: mock data, unit: a.u.}}
      - source_data:
          brand: {{file_path: {RDB_2}, participant_file: config/t0/t0.yaml, devices_file: config/devices.yaml}}
          mock: {{num_channels: 2, sampling_frequency: 50.0, duration: 0.4, seed: 8}}
        metadata:
          Subject: {{subject_id: t0-b}}
          TimeSeries:
            TimeSeries: {{name: mock_series, description: mock data, unit: a.u.}}
        backend_configuration:
          acquisition/sbp_samples/data: {{chunk_shape: [250, 64], compressors: [gzip], compressor_options: [{{level: 9}}]}}
      - nwbfile_name: broken
        source_data:
          brand: {{file_path: 2023-11-16/missing.rdb}}
"""


def test_two_sessions_in_parallel_values_precedence_and_a_broken_session(archive, tmp_path):
    spec = write_spec(tmp_path, TWO_SESSIONS_AND_A_BROKEN_ONE)
    output = tmp_path / "nwb"
    summary = run_conversion_from_yaml(spec, data_folder_path=archive.data, output_folder_path=output, jobs=2)

    first, second, broken = summary.sessions
    assert [result.label for result in summary.sessions] == [
        "$.experiments.cursor_task.sessions[0]",
        "$.experiments.cursor_task.sessions[1]",
        "$.experiments.cursor_task.sessions[2]",
    ]
    assert (first.ok, second.ok, broken.ok, summary.ok) == (True, True, False, False)
    assert first.nwbfile_path == output / "t0_231114T2213_cursor.nwb"
    assert second.nwbfile_path == output / "t0_231115T1010_cursor.nwb"
    assert broken.nwbfile_path == output / "broken.nwb"
    assert broken.error.startswith("RdbFileError: ") and "missing.rdb: no such file" in broken.error
    assert first.seconds > 0 and second.seconds > 0
    # only the two complete files: no output, and no partial file, for the broken session
    assert sorted(path.name for path in output.iterdir()) == [
        "t0_231114T2213_cursor.nwb",
        "t0_231115T1010_cursor.nwb",
    ]
    assert "FAILED" in str(summary) and "1 failed" in str(summary)
    assert summary.nwbfile_paths == (first.nwbfile_path, second.nwbfile_path)

    nwb_1, nwb_2 = read_nwb(first.nwbfile_path), read_nwb(second.nwbfile_path)
    truth_1, truth_2 = archive.truths[RDB_1], archive.truths[RDB_2]
    for nwbfile in (nwb_1, nwb_2):
        assert {"sbp_samples", "binned_spikes_samples", "mock_series"} <= set(nwbfile.acquisition)

    # data equal the truth; session 1 overrides the global stub_test for sbp only, session 2 keeps it
    np.testing.assert_array_equal(nwb_1.acquisition["sbp_samples"].data[:], samples(truth_1, "sbp"))
    np.testing.assert_array_equal(
        nwb_2.acquisition["sbp_samples"].data[:], samples(truth_2, "sbp")[:STUB_ENTRIES]
    )
    assert len(samples(truth_2, "sbp")) > STUB_ENTRIES
    np.testing.assert_array_equal(
        nwb_1.acquisition["binned_spikes_samples"].data[:], samples(truth_1, "binned_spikes")
    )
    np.testing.assert_array_equal(
        nwb_2.acquisition["binned_spikes_samples"].data[:], samples(truth_2, "binned_spikes")
    )
    # the stock interface, which takes no stub_test (the global option is given only to interfaces that take it)
    np.testing.assert_array_equal(nwb_1.acquisition["mock_series"].data[:], mock_data(3, 100.0, 0.5, 7))
    np.testing.assert_array_equal(nwb_2.acquisition["mock_series"].data[:], mock_data(2, 50.0, 0.4, 8))

    # metadata: interfaces < global < experiment < session
    assert (nwb_1.lab, nwb_2.lab) == ("Session Lab", "Experiment Lab")
    assert nwb_1.institution == nwb_2.institution == "Global Institute"
    assert nwb_1.experiment_description == nwb_2.experiment_description == "cursor experiment"
    assert nwb_1.session_description == nwb_2.session_description == "global description"
    assert (nwb_1.subject.subject_id, nwb_2.subject.subject_id) == ("t0-a", "t0-b")
    assert (list(nwb_1.keywords[:]), list(nwb_2.keywords[:])) == (["BCI", "cursor"], ["BCI"])  # lists combine
    assert nwb_1.subject.species == nwb_2.subject.species == "Homo sapiens"
    assert nwb_1.acquisition["sbp_samples"].description == "session sbp description"
    assert nwb_2.acquisition["sbp_samples"].description == "experiment sbp description"
    # BrandConverter is listed after the mock interface, so its session start (from the Redis ids) wins
    for nwbfile, relative in ((nwb_1, RDB_1), (nwb_2, RDB_2)):
        start = BrandConverter(file_path=archive.data / relative).get_metadata()["NWBFile"][
            "session_start_time"
        ]
        assert nwbfile.session_start_time == start

    # per-dataset backend configuration of session 2; session 1 keeps NeuroConv's default
    with h5py.File(second.nwbfile_path, "r") as file:
        dataset = file["acquisition/sbp_samples/data"]
        assert (dataset.chunks, dataset.compression, dataset.compression_opts) == ((250, 64), "gzip", 9)
    with h5py.File(first.nwbfile_path, "r") as file:
        assert file["acquisition/sbp_samples/data"].chunks != (250, 64)


def test_options_for_a_nested_converter(archive, tmp_path):
    spec = write_spec(
        tmp_path,
        f"""
conversion_options: {{stub_test: true}}
data_interfaces: {{brand: BrandConverter, mock: neuroconv.tools.testing:MockTimeSeriesInterface}}
experiments:
  e:
    sessions:
      - source_data:
          brand: {{file_path: {RDB_1}, streams: [sbp, binned_spikes], stream_timestamps: false}}
          mock: {{duration: 0.1}}
        conversion_options:
          brand: {{chunk_mb: 5.0, sbp: {{stub_test: false, chunk_mb: 2.0}}}}
""",
    )
    (task,) = plan_conversion(spec, data_folder_path=archive.data, output_folder_path=tmp_path)
    converter = type("Converter", (NWBConverter,), {"data_interface_classes": task.interface_classes})(
        source_data=task.source_data
    )
    assert resolve_conversion_options(converter, task) == {
        "brand": {
            "Participant": {},  # takes neither option
            "sbp": {"stub_test": False, "chunk_mb": 2.0},  # per-stream beats converter-wide beats global
            "binned_spikes": {"stub_test": True, "chunk_mb": 5.0},
        },
        "mock": {},
    }


def test_problems_found_only_with_the_data_fail_their_session(archive, tmp_path):
    output = tmp_path / "nwb"
    output.mkdir()
    (output / "existing.nwb").write_bytes(b"precious")
    brand = f"brand: {{file_path: {RDB_1}, streams: [sbp]}}"
    spec = write_spec(
        tmp_path,
        f"""
data_interfaces: {{brand: BrandConverter}}
metadata:
  Subject: {{subject_id: t0, species: Homo sapiens, sex: M, age: P45Y}}
experiments:
  e:
    sessions:
      - nwbfile_name: unknown_location
        source_data: {{{brand}}}
        backend_configuration: {{acquisition/nope/data: {{chunk_shape: [10, 10]}}}}
      - nwbfile_name: option_not_taken
        source_data: {{{brand}}}
        conversion_options: {{brand: {{sbp: {{stub_tset: true}}}}}}
      - nwbfile_name: wrong_dimensions
        source_data: {{{brand}}}
        backend_configuration: {{acquisition/sbp_samples/data: {{chunk_shape: [100]}}}}
      - nwbfile_name: rejected_by_neuroconv
        source_data: {{{brand}}}
        backend_configuration: {{acquisition/sbp_samples/data: {{compressors: [gzip, shuffle]}}}}
      - nwbfile_name: bad_metadata
        source_data: {{{brand}}}
        metadata: {{TimeSeries: {{sbp_samples: {{unit: 5}}}}}}
      - nwbfile_name: existing
        source_data: {{{brand}}}
      - nwbfile_name: fine
        source_data: {{{brand}}}
""",
    )
    summary = run_conversion_from_yaml(spec, data_folder_path=archive.data, output_folder_path=output)
    errors = {result.nwbfile_path.stem: result.error for result in summary.sessions}
    path = "$.experiments.e.sessions"
    assert errors["fine"] is None
    assert (
        f"at {path}[0].backend_configuration['acquisition/nope/data']: 'acquisition/nope/data' is not a "
        in errors["unknown_location"]
    )
    assert "use one of ['acquisition/sbp_samples/data', " in errors["unknown_location"]
    assert (
        f"at {path}[1].conversion_options.brand.sbp.stub_tset: BrandTimeSeriesInterface does not accept"
        in errors["option_not_taken"]
    )
    assert (
        "[100] has 1 dimension(s); the dataset acquisition/sbp_samples/data has shape [3000, 128]"
        in errors["wrong_dimensions"]
    )
    assert (
        "NeuroConv rejects these settings for acquisition/sbp_samples/data" in errors["rejected_by_neuroconv"]
    )
    assert "['shuffle', <compression method>, 'fletcher32']" in errors["rejected_by_neuroconv"]
    assert (
        f"at {path}[4]: the session's metadata at $.TimeSeries.sbp_samples.unit is invalid: 5 is not of type 'string'"
        in errors["bad_metadata"]
    )
    assert (
        errors["existing"]
        == f"FileExistsError: {output / 'existing.nwb'} already exists; pass overwrite=True (--overwrite) to replace it."
    )
    assert (output / "existing.nwb").read_bytes() == b"precious"
    assert sorted(p.name for p in output.iterdir()) == ["existing.nwb", "fine.nwb"]

    # overwrite=True replaces it
    spec = write_spec(
        tmp_path,
        f"""
data_interfaces: {{brand: BrandConverter}}
experiments: {{e: {{sessions: [{{nwbfile_name: existing, source_data: {{{brand}}}}}]}}}}
""",
    )
    summary = run_conversion_from_yaml(
        spec, data_folder_path=archive.data, output_folder_path=output, overwrite=True
    )
    assert summary.ok
    np.testing.assert_array_equal(
        read_nwb(output / "existing.nwb").acquisition["sbp_samples"].data[:],
        samples(archive.truths[RDB_1], "sbp"),
    )


def test_a_global_option_no_interface_takes(archive, tmp_path):
    spec = write_spec(
        tmp_path,
        f"""
conversion_options: {{stub_tset: true}}
data_interfaces: {{brand: BrandConverter}}
experiments: {{e: {{sessions: [{{source_data: {{brand: {{file_path: {RDB_1}, streams: [sbp]}}}}}}]}}}}
""",
    )
    (result,) = run_conversion_from_yaml(
        spec, data_folder_path=archive.data, output_folder_path=tmp_path
    ).sessions
    assert (
        "at $.conversion_options.stub_tset: no interface of $.experiments.e.sessions[0] accepts"
        in result.error
    )


def test_dask_cluster(archive, tmp_path):
    distributed = pytest.importorskip(
        "distributed", reason="dask[distributed] is not installed (the [dask] extra)"
    )
    spec = write_spec(
        tmp_path,
        f"""
data_interfaces: {{brand: BrandConverter}}
metadata: {{Subject: {{subject_id: t0, species: Homo sapiens, sex: M, age: P45Y}}}}
experiments:
  e:
    sessions:
      - source_data: {{brand: {{file_path: {RDB_1}, streams: [sbp]}}}}
      - source_data: {{brand: {{file_path: {RDB_2}, streams: [sbp]}}}}
      - source_data: {{brand: {{file_path: missing.rdb}}}}
""",
    )
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        summary = run_conversion_from_yaml(
            spec,
            data_folder_path=archive.data,
            output_folder_path=tmp_path / "nwb",
            dask_scheduler=cluster.scheduler_address,
        )
    assert [result.ok for result in summary.sessions] == [True, True, False]
    assert "missing.rdb: no such file" in summary.sessions[2].error
    for result, relative in zip(summary.sessions, (RDB_1, RDB_2)):
        data = read_nwb(result.nwbfile_path).acquisition["sbp_samples"].data[:]
        np.testing.assert_array_equal(data, samples(archive.truths[relative], "sbp"))


# --- NeuroConv's own runner -------------------------------------------------------------------------------


def test_registered_names_build_a_neuroconv_converter(archive, tmp_path):
    register_with_neuroconv()
    register_with_neuroconv()  # idempotent
    import neuroconv.converters
    import neuroconv.datainterfaces

    # looked up by name, as NeuroConv's runner does
    interface, converter_class = (
        getattr(neuroconv.datainterfaces, name) for name in ("BrandTimeSeriesInterface", "BrandConverter")
    )
    assert sum(cls is interface for cls in neuroconv.datainterfaces.interface_list) == 1
    assert sum(cls is converter_class for cls in neuroconv.converters.converter_list) == 1

    class StockConverter(NWBConverter):
        data_interface_classes = {"sbp": interface, "session": converter_class}

    converter = StockConverter(
        source_data={
            "sbp": {"file_path": str(archive.data / RDB_1), "stream_name": "sbp"},
            "session": {"file_path": str(archive.data / RDB_2), "streams": ["binned_spikes"]},
        }
    )
    path = tmp_path / "stock.nwb"
    converter.run_conversion(nwbfile_path=path)
    nwbfile = read_nwb(path)
    np.testing.assert_array_equal(
        nwbfile.acquisition["sbp_samples"].data[:], samples(archive.truths[RDB_1], "sbp")
    )
    np.testing.assert_array_equal(
        nwbfile.acquisition["binned_spikes_samples"].data[:], samples(archive.truths[RDB_2], "binned_spikes")
    )


@pytest.mark.skipif(
    importlib.util.find_spec("dandi") is None,
    reason="NeuroConv's run_conversion_from_yaml imports dandi, which is not installed (pip install 'neuroconv[dandi]')",
)
def test_neuroconv_runner_resolves_registered_names(archive, tmp_path):
    from neuroconv import run_conversion_from_yaml as neuroconv_run_conversion_from_yaml

    register_with_neuroconv()
    spec = write_spec(
        tmp_path,
        f"""
data_interfaces: {{brand: BrandConverter}}
experiments:
  e:
    sessions:
      - nwbfile_name: stock
        source_data: {{brand: {{file_path: {RDB_1}, streams: [sbp]}}}}
        metadata: {{Subject: {{subject_id: t0, species: Homo sapiens, sex: M}}}}
""",
    )
    neuroconv_run_conversion_from_yaml(spec, data_folder_path=archive.data, output_folder_path=tmp_path)
    data = read_nwb(tmp_path / "stock.nwb").acquisition["sbp_samples"].data[:]
    np.testing.assert_array_equal(data, samples(archive.truths[RDB_1], "sbp"))


# --- docs/yaml-specification.md -------------------------------------------------------------------------

_BLOCK = re.compile(r"<!-- (?P<kind>example|output): (?P<name>\S+) -->\n```[a-z]*\n(?P<body>.*?)```", re.S)


def doc_blocks() -> dict[tuple[str, str], str]:
    return {(match["kind"], match["name"]): match["body"] for match in _BLOCK.finditer(DOC.read_text())}


def test_every_code_example_of_the_page_is_marked_for_testing():
    text = DOC.read_text()
    fences = re.findall(r"(?:^|\n)(<!-- example: \S+ -->\n)?```(python|yaml)\n", text)
    unmarked = [language for marker, language in fences if not marker]
    assert unmarked == [] and len(fences) >= 10


@contextlib.contextmanager
def working_directory(path: Path):
    previous = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


def run_example(name: str) -> str:
    """Run a python example of the page (as a script: ``__name__ == "__main__"``); return what it printed."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(
            compile(doc_blocks()[("example", name)], f"docs example {name}", "exec"), {"__name__": "__main__"}
        )
    return printed.getvalue()


def write_example(name: str) -> None:
    Path(name).parent.mkdir(parents=True, exist_ok=True)
    Path(name).write_text(doc_blocks()[("example", name)])


@pytest.fixture(scope="module")
def docs_workspace(archive, tmp_path_factory) -> Path:
    """A folder where the page's examples ran in order: cursor, features, zarr, batch."""
    workspace = tmp_path_factory.mktemp("docs")
    shutil.copytree(archive.data, workspace / "data")
    with working_directory(workspace):
        for name in (
            "cursor.yml",
            "data/2023-11-14/epochs.csv",
            "features.yml",
            "zarr.yml",
            "broken.yml",
            "stock.yml",
        ):
            write_example(name)
        for name in ("run-cursor", "run-features", "run-zarr", "batch"):
            run_example(name)
    return workspace


def test_docs_whole_session_example(docs_workspace, archive):
    nwb = docs_workspace / "nwb"
    for relative, session_id in ((RDB_1, "t0_2023-11-14_block1"), (RDB_2, "t0_2023-11-15_block1")):
        nwbfile = read_nwb(nwb / (Path(relative).stem + ".nwb"))
        assert (nwbfile.session_id, nwbfile.lab, nwbfile.institution) == (
            session_id,
            "Example BCI Lab",
            "Emory University",
        )
        assert list(nwbfile.experimenter) == ["Doe, Jane"]
        assert nwbfile.experiment_description == "Radial-8 cursor control with a linear decoder."
        assert (nwbfile.subject.species, nwbfile.subject.sex, nwbfile.subject.age) == (
            "Homo sapiens",
            "M",
            "P45Y",
        )
        np.testing.assert_array_equal(
            nwbfile.acquisition["sbp_samples"].data[:], samples(archive.truths[relative], "sbp")
        )


def test_docs_fine_control_example(docs_workspace, archive):
    path = docs_workspace / "nwb" / "t0_2023-11-14_features.nwb"
    nwbfile = read_nwb(path)
    assert set(nwbfile.acquisition) == {"sbp_samples", "binned_spikes_samples"}
    truth = archive.truths[RDB_1]
    np.testing.assert_array_equal(nwbfile.acquisition["sbp_samples"].data[:], samples(truth, "sbp"))
    assert nwbfile.acquisition["sbp_samples"].description == "Spiking band power per channel, 1 kHz."
    spikes = nwbfile.acquisition["binned_spikes_samples"]  # clock: redis -> the entry-id times
    start_ms = nwbfile.session_start_time.timestamp() * 1000.0
    redis_s = (truth.streams["binned_spikes"].ids[:, 0].astype(np.int64) - start_ms) / 1000.0
    times = spikes.timestamps
    times = times[:] if times is not None else spikes.starting_time + np.arange(len(redis_s)) / spikes.rate
    np.testing.assert_allclose(times, redis_s, atol=1e-3)
    epochs = nwbfile.intervals["lab_epochs"]
    assert epochs.description == "Rest and task epochs from the lab notebook."
    assert epochs["start_time"][:].tolist() == [0.0, 0.8] and epochs["stop_time"][:].tolist() == [0.8, 1.9]
    assert epochs["condition"][:].tolist() == ["rest", "task"]
    with h5py.File(path, "r") as file:
        dataset = file["acquisition/sbp_samples/data"]
        assert (dataset.chunks, dataset.compression, dataset.compression_opts) == ((500, 64), "gzip", 9)


def test_docs_zarr_example(docs_workspace, archive):
    import zarr

    path = docs_workspace / "nwb" / "t0_231115T1010_cursor.nwb.zarr"
    dataset = zarr.open(str(path), mode="r")["acquisition/sbp_samples/data"]
    assert type(dataset.compressor).__name__ == "Zstd" and dataset.compressor.level == 5
    np.testing.assert_array_equal(dataset[:], samples(archive.truths[RDB_2], "sbp"))


def test_docs_batch_example(docs_workspace, archive):
    specification = yaml.safe_load((docs_workspace / "archive.yml").read_text())
    files = [
        session["source_data"]["brand"]["file_path"]
        for session in specification["experiments"]["archive"]["sessions"]
    ]
    assert files == [RDB_1, RDB_2]
    for relative in files:
        nwbfile = read_nwb(docs_workspace / "nwb-archive" / (Path(relative).stem + ".nwb"))
        np.testing.assert_array_equal(
            nwbfile.acquisition["sbp_samples"].data[:], samples(archive.truths[relative], "sbp")
        )


def test_docs_parallel_example(docs_workspace, archive):
    with working_directory(docs_workspace):
        printed = run_example("parallel")
    assert printed.count(" True ") == 2
    for relative in (RDB_1, RDB_2):
        nwbfile = read_nwb(docs_workspace / "nwb-parallel" / (Path(relative).stem + ".nwb"))
        np.testing.assert_array_equal(
            nwbfile.acquisition["sbp_samples"].data[:], samples(archive.truths[relative], "sbp")
        )


def test_docs_dask_example(docs_workspace, archive):
    distributed = pytest.importorskip(
        "distributed", reason="dask[distributed] is not installed (the [dask] extra)"
    )
    code = doc_blocks()[("example", "dask")]
    assert '"tcp://10.0.0.5:8786"' in code
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        working_directory(docs_workspace),
    ):
        exec(code.replace("tcp://10.0.0.5:8786", cluster.scheduler_address), {"__name__": "__main__"})
    for relative in (RDB_1, RDB_2):
        nwbfile = read_nwb(docs_workspace / "nwb-dask" / (Path(relative).stem + ".nwb"))
        np.testing.assert_array_equal(
            nwbfile.acquisition["sbp_samples"].data[:], samples(archive.truths[relative], "sbp")
        )


def test_docs_broken_example_prints_what_the_page_shows(docs_workspace):
    with working_directory(docs_workspace):
        printed = run_example("check-broken")
    shown = doc_blocks()[("output", "check-broken")]
    assert printed.replace(str(docs_workspace / "broken.yml"), "broken.yml") == shown


def test_docs_backend_locations_example(docs_workspace):
    with working_directory(docs_workspace):
        printed = run_example("locations")
    assert (
        "'acquisition/sbp_samples/data'" in printed and "'acquisition/binned_spikes_samples/data'" in printed
    )


@pytest.mark.skipif(
    importlib.util.find_spec("dandi") is None,
    reason="NeuroConv's run_conversion_from_yaml imports dandi, which is not installed (pip install 'neuroconv[dandi]')",
)
def test_docs_neuroconv_runner_example(docs_workspace, archive):
    with working_directory(docs_workspace):
        run_example("run-stock")
    nwbfile = read_nwb(docs_workspace / "nwb-stock" / "t0_231114T2213_cursor.nwb")
    np.testing.assert_array_equal(
        nwbfile.acquisition["sbp_samples"].data[:], samples(archive.truths[RDB_1], "sbp")
    )
