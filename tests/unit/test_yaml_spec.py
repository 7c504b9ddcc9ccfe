"""Loading, checking and planning YAML specifications (no data source is opened here)."""

import sys
from pathlib import Path

import pytest
from neuroconv.datainterfaces import CsvTimeIntervalsInterface, SpikeGLXRecordingInterface
from neuroconv.tools.testing import MockTimeSeriesInterface

from neuroconv_brand import BrandConverter, BrandTimeSeriesInterface
from neuroconv_brand.apps.neuroconv_registration import brand_classes
from neuroconv_brand.apps.yaml_jobs import DaskNotInstalledError, check_execution
from neuroconv_brand.apps.yaml_runner import run_conversion_from_yaml
from neuroconv_brand.apps.yaml_specification import (
    InterfaceResolutionError,
    YamlSpecificationError,
    join_data_folder,
    output_file_name,
    plan_conversion,
    resolve_interface,
)

MINIMAL = """
data_interfaces: {brand: BrandConverter}
experiments:
  e:
    sessions:
      - source_data: {brand: {file_path: block1.rdb}}
"""


def write(folder: Path, text: str) -> Path:
    path = folder / "spec.yml"
    path.write_text(text)
    return path


def problems_of(folder: Path, text: str, **options) -> list[str]:
    with pytest.raises(YamlSpecificationError) as caught:
        plan_conversion(write(folder, text), **options)
    label = str((folder / "spec.yml").resolve())
    assert all(problem.startswith(f"{label}: ") for problem in caught.value.problems)
    return [problem.removeprefix(f"{label}: ") for problem in caught.value.problems]


# --- schema violations: one per kind, each with its JSON path and a fix ------------------------------------

SESSION = "$.experiments.e.sessions[0]"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "experiments: {e: {sessions: [{source_data: {brand: {file_path: x.rdb}}}]}}",
            "at $: missing the required key 'data_interfaces'. Fix: add the missing top-level key",
        ),
        (
            MINIMAL + "plugins: [mylab]\n",
            "at $: Additional properties are not allowed ('plugins' was unexpected). Fix: remove or rename the key; "
            "the top-level keys are",
        ),
        (
            "data_interfaces: {brand: BrandConverter}\nexperiments: {e: {sessions: [{nwbfile_name: x}]}}",
            f"at {SESSION}: missing the required key 'source_data'. Fix: add 'source_data:'",
        ),
        (
            MINIMAL.replace("- source_data:", "- conversion_option: {brand: {}}\n        source_data:"),
            f"at {SESSION}: Additional properties are not allowed ('conversion_option' was unexpected)",
        ),
        (
            MINIMAL + "backend: nwb\n",
            "at $.backend: the value is not a backend. Fix: write 'backend: hdf5' or",
        ),
        (
            MINIMAL + "backend_configuration: {acquisition/x/data: {chunk_shape: [0, 10]}}\n",
            "at $.backend_configuration['acquisition/x/data'].chunk_shape[0]: 0 is below the minimum 1. Fix: give "
            "each dimension as a positive integer.",
        ),
        (
            MINIMAL + "backend_configuration: {acquisition/x/data: {chunks: [10, 10]}}\n",
            "at $.backend_configuration['acquisition/x/data']: Additional properties are not allowed ('chunks' was "
            "unexpected). Fix: remove or rename the key; a dataset takes chunk_shape",
        ),
        (
            MINIMAL + "metadata: {NWBFile: {session_desription: x}}\n",
            "at $.metadata.NWBFile: Additional properties are not allowed ('session_desription' was unexpected)",
        ),
        (
            MINIMAL + "metadata: {Subject: {sex: male}}\n",
            "at $.metadata.Subject.sex: the value is not one of NWB's sex codes. Fix: write M, F, U (unknown) or O",
        ),
        (
            MINIMAL + "metadata: {Subject: {subject_id: 7}}\n",
            "at $.metadata.Subject.subject_id: 7 is an integer, expected text. Fix: give the subject id as text; "
            'quote it if it looks like a number, e.g. subject_id: "7".',
        ),
        (
            MINIMAL + "metadata: {TimeSeries: [a, b]}\n",
            "at $.metadata.TimeSeries: ['a', 'b'] is a list, expected a mapping. Fix: write the metadata block as a "
            "mapping",
        ),
        (
            MINIMAL.replace("brand: BrandConverter", "brand: Brand Converter"),
            "at $.data_interfaces.brand: the value is not an interface class name. Fix: give a bare class name",
        ),
        (
            "data_interfaces: {brand: BrandConverter}\nexperiments: {e: {sessions: []}}",
            "at $.experiments.e.sessions: has 0 item(s), expected at least 1. Fix: add at least one session",
        ),
        (
            MINIMAL.replace("{brand: {file_path: block1.rdb}}", "{brand: block1.rdb}"),
            f"at {SESSION}.source_data.brand: 'block1.rdb' is text, expected a mapping. Fix: write the interface's "
            "arguments as a mapping",
        ),
    ],
)
def test_schema_violation_is_reported_with_its_path_and_fix(tmp_path, text, expected):
    problems = problems_of(tmp_path, text)
    assert any(problem.startswith(expected) for problem in problems), problems


def test_every_problem_is_reported_at_once(tmp_path):
    text = (
        MINIMAL.replace("brand: BrandConverter", "brand: BrandConverer")
        + "backend: nwb\nmetadata: {Subject: {sex: male}}\n"
    )
    problems = problems_of(tmp_path, text)
    assert [problem.split(":")[0] for problem in problems] == [
        "at $.backend",
        "at $.metadata.Subject.sex",
        "at $.data_interfaces.brand",
    ]
    assert "did you mean BrandConverter" in problems[2]


def test_the_message_lists_the_problems(tmp_path):
    with pytest.raises(
        YamlSpecificationError, match=r"has 2 problems \(nothing was converted\):\n  - .*backend"
    ):
        plan_conversion(write(tmp_path, MINIMAL + "backend: nwb\nmetadata: {Subject: {sex: male}}\n"))


# --- the file itself ------------------------------------------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(YamlSpecificationError, match=r"nope\.yml: the specification file does not exist"):
        plan_conversion(tmp_path / "nope.yml")


def test_invalid_yaml_names_line_and_column(tmp_path):
    path = write(tmp_path, "data_interfaces: {brand: BrandConverter\nexperiments: {}\n")
    with pytest.raises(YamlSpecificationError, match=r"spec.yml: at line 2, column \d+: not valid YAML"):
        plan_conversion(path)


def test_empty_file(tmp_path):
    with pytest.raises(YamlSpecificationError, match="the file is empty"):
        plan_conversion(write(tmp_path, "# nothing yet\n"))


def test_top_level_not_a_mapping(tmp_path):
    (problem,) = problems_of(tmp_path, "- a\n- b\n")
    assert problem.startswith(
        "at $: ['a', 'b'] is a list, expected a mapping. Fix: write the specification as"
    )


def test_upload_to_dandiset_is_not_supported_yet(tmp_path):
    (problem,) = problems_of(tmp_path, MINIMAL + "upload_to_dandiset: '000123'\n")
    assert problem.startswith(
        "at $.upload_to_dandiset: uploading to DANDI is not supported yet by neuroconv-brand"
    )
    assert "dandi upload" in problem


def test_dandi_is_never_imported(tmp_path):
    plan_conversion(write(tmp_path, MINIMAL))
    assert "dandi" not in sys.modules


# --- what NeuroConv's schema rejects and this one accepts -----------------------------------------------


def test_neuroconv_layout_with_plugin_metadata_blocks_and_backend_keys(tmp_path):
    text = """
metadata:
  NWBFile: {lab: X, institution: Y, session_start_time: 2020-10-09T21:19:09+00:00}
  Devices: {array1: {name: NeuroPort8x8, description: Utah array}}
  Brand: {anything: [1, 2]}
conversion_options: {stub_test: true}
backend: zarr
backend_configuration: {acquisition/sbp_samples/data: {compressors: [zstd]}}
data_interfaces: {ap: SpikeGLXRecordingInterface, brand: BrandConverter}
experiments:
  ymaze:
    metadata: {NWBFile: {session_description: ymaze}, TimeSeries: {sbp_samples: {unit: a.u.}}}
    sessions:
      - nwbfile_name: example_1
        source_data:
          ap: {folder_path: spikeglx/Noise4Sam_g0, stream_id: imec0.ap}
          brand: {file_path: block1.rdb}
        conversion_options: {ap: {iterator_type: v2}}
        metadata:
          NWBFile: {session_start_time: "2020-10-09T21:19:09+00:00"}
          Subject: {subject_id: "1", species: Mus musculus, sex: M}
"""
    (task,) = plan_conversion(write(tmp_path, text))
    assert task.interface_classes == {"ap": SpikeGLXRecordingInterface, "brand": BrandConverter}
    assert task.nwbfile_path == tmp_path / "example_1.nwb.zarr"
    assert task.backend == "zarr"
    global_metadata = dict(task.metadata_layers)["$.metadata"]
    # YAML reads the unquoted time as a datetime; it is handed on as ISO 8601 text, as NeuroConv does
    assert global_metadata["NWBFile"]["session_start_time"] == "2020-10-09T21:19:09+00:00"
    assert global_metadata["Devices"] == {"array1": {"name": "NeuroPort8x8", "description": "Utah array"}}


# --- interface names ------------------------------------------------------------------------------------


def test_bare_names_resolve_in_this_package_then_neuroconv():
    assert resolve_interface("BrandConverter") is BrandConverter
    assert resolve_interface("BrandTimeSeriesInterface") is BrandTimeSeriesInterface
    assert resolve_interface("CsvTimeIntervalsInterface") is CsvTimeIntervalsInterface
    for name, cls in brand_classes().items():
        assert resolve_interface(name) is cls


def test_dotted_names_of_allowed_modules():
    assert resolve_interface("neuroconv.tools.testing:MockTimeSeriesInterface") is MockTimeSeriesInterface
    assert resolve_interface("neuroconv_brand.converter:BrandConverter") is BrandConverter


def test_dotted_name_outside_the_allowed_modules():
    with pytest.raises(
        InterfaceResolutionError, match=r"module 'os.path', which is not allowed .* allowed_modules=\['os'\]"
    ):
        resolve_interface("os.path:join")
    with pytest.raises(
        InterfaceResolutionError, match=r"'os.path:join' is <function join.*not a NeuroConv interface"
    ):
        resolve_interface("os.path:join", allowed_modules=["os"])


def test_prefix_of_an_allowed_name_is_not_allowed():
    with pytest.raises(InterfaceResolutionError, match="not allowed"):
        resolve_interface("neuroconv_evil:X")


def test_dotted_name_problems():
    with pytest.raises(InterfaceResolutionError, match=r"module 'neuroconv\.nope' cannot be imported"):
        resolve_interface("neuroconv.nope:X")
    with pytest.raises(
        InterfaceResolutionError,
        match=r"has no 'MockTimeSeriesInterfce'.*did you mean MockTimeSeriesInterface",
    ):
        resolve_interface("neuroconv.tools.testing:MockTimeSeriesInterfce")


def test_unknown_bare_name_suggests_close_names(tmp_path):
    (problem,) = problems_of(
        tmp_path, MINIMAL.replace("brand: BrandConverter", "brand: BrandTimeSerieInterface")
    )
    assert problem.startswith(
        "at $.data_interfaces.brand: no interface or converter is named 'BrandTimeSerieInterface'"
    )
    assert "did you mean BrandTimeSeriesInterface" in problem


# --- sessions against their interfaces -------------------------------------------------------------------


def test_source_data_names_an_interface_not_in_data_interfaces(tmp_path):
    (problem,) = problems_of(
        tmp_path, MINIMAL.replace("{brand: {file_path: block1.rdb}}", "{brnad: {file_path: a}}")
    )
    assert problem == (
        f"at {SESSION}.source_data.brnad: 'brnad' is not a name in data_interfaces. Fix: use one of ['brand'] "
        "(did you mean brand?) or add 'brnad' to data_interfaces."
    )


def test_unknown_and_missing_constructor_arguments(tmp_path):
    text = MINIMAL.replace("{file_path: block1.rdb}", "{participant_fle: t0.yaml}")
    unknown, missing = problems_of(tmp_path, text)
    assert unknown.startswith(
        f"at {SESSION}.source_data.brand.participant_fle: BrandConverter takes no argument 'participant_fle'. "
        "Fix: remove or rename it (did you mean participant_file?); BrandConverter takes file_path, participant_file,"
    )
    assert (
        missing
        == f"at {SESSION}.source_data.brand: BrandConverter needs the argument 'file_path'. Fix: add 'file_path: ...'."
    )


def test_conversion_options_for_an_interface_the_session_does_not_convert(tmp_path):
    text = """
data_interfaces: {brand: BrandConverter, notes: CsvTimeIntervalsInterface}
experiments:
  e:
    sessions:
      - source_data: {brand: {file_path: block1.rdb}}
        conversion_options: {notes: {tag: trials}}
"""
    (problem,) = problems_of(tmp_path, text)
    assert problem.startswith(
        f"at {SESSION}.conversion_options.notes: options for 'notes', which this session does not"
    )


def test_two_sessions_writing_the_same_file(tmp_path):
    text = MINIMAL + "      - source_data: {brand: {file_path: other/block1.rdb}}\n"
    (problem,) = problems_of(tmp_path, text)
    assert problem == (
        f"at $.experiments.e.sessions[1]: writes {tmp_path.resolve() / 'block1.nwb'}, as {SESSION} does. Fix: give the "
        "sessions different 'nwbfile_name' values."
    )


@pytest.mark.parametrize(
    ("name", "why"), [("/tmp/x", "is an absolute path"), ("../x", "leaves the output folder")]
)
def test_output_name_outside_the_output_folder(tmp_path, name, why):
    (problem,) = problems_of(
        tmp_path, MINIMAL.replace("- source_data:", f"- nwbfile_name: {name}\n        source_data:")
    )
    assert problem.startswith(f"at {SESSION}.nwbfile_name: '{name}' {why}")


def test_missing_data_folder(tmp_path):
    (problem,) = problems_of(tmp_path, MINIMAL, data_folder_path=tmp_path / "nope")
    assert (
        problem
        == f"the data folder {tmp_path.resolve() / 'nope'} does not exist. Fix: give an existing data folder (data_folder_path, --data-folder-path)."
    )


# --- planning: paths, names, layers ----------------------------------------------------------------------


def test_path_arguments_are_joined_with_the_data_folder(tmp_path):
    data = Path("/data/brand")
    arguments = {
        "file_path": "2023-11-14/block1.rdb",
        "participant_file": "config/t0/t0.yaml",
        "devices_file": "/etc/brand/devices.yaml",
        "brand_base_dir": "brand",
        "folder_path": "video",
        "file_paths": ["a.avi", "/abs/b.avi"],
        "stream_name": "sbp",
        "redis_server_path": "bin/redis-server",
        "source_data": {"child": {"file_path": "child.bin"}},
    }
    assert join_data_folder(arguments, data) == {
        "file_path": "/data/brand/2023-11-14/block1.rdb",
        "participant_file": "/data/brand/config/t0/t0.yaml",
        "devices_file": "/etc/brand/devices.yaml",
        "brand_base_dir": "/data/brand/brand",
        "folder_path": "/data/brand/video",
        "file_paths": ["/data/brand/a.avi", "/abs/b.avi"],
        "stream_name": "sbp",
        "redis_server_path": "bin/redis-server",
        "source_data": {"child": {"file_path": "/data/brand/child.bin"}},
    }
    for url in ("redis://rig:6379/0", "rediss://user:pw@rig:6380/1", "unix:///run/redis.sock"):
        assert join_data_folder({"file_path": url}, data) == {"file_path": url}


def test_planned_tasks(tmp_path):
    text = """
metadata: {NWBFile: {lab: G}}
conversion_options: {stub_test: true}
backend: hdf5
backend_configuration:
  acquisition/sbp_samples/data: {chunk_shape: [100, 128], compressors: [gzip]}
  acquisition/binned_spikes_samples/data: {compressors: [lzf]}
data_interfaces: {mock: "neuroconv.tools.testing:MockTimeSeriesInterface", brand: BrandConverter}
experiments:
  e:
    metadata: {NWBFile: {lab: E}}
    backend: zarr
    backend_configuration:
      /acquisition/sbp_samples/data: {compressors: [zstd], compressor_options: [{level: 3}]}
    sessions:
      - source_data:
          brand: {file_path: 2023-11-14/t0_231114T2213_cursor.rdb, participant_file: config/t0.yaml}
          mock: {duration: 0.1}
        conversion_options: {brand: {sbp: {stub_test: false}}}
        metadata: {NWBFile: {lab: S}}
        backend_configuration:
          acquisition/sbp_samples/data: {chunk_shape: [50, 128]}
      - nwbfile_name: second.nwb
        backend: hdf5
        source_data: {brand: {file_path: redis://rig:6379/0}}
      - source_data: {brand: {file_path: redis://rig:6379/1}}
"""
    data, output = tmp_path.resolve() / "data", tmp_path.resolve() / "out"
    data.mkdir()
    first, second, third = plan_conversion(
        write(tmp_path, text), data_folder_path=data, output_folder_path=output
    )

    assert first.label == "$.experiments.e.sessions[0]" and (first.experiment, first.index) == ("e", 0)
    assert list(first.interface_classes) == ["mock", "brand"]  # data_interfaces order, as NeuroConv
    assert list(second.interface_classes) == ["brand"]
    assert first.source_data["brand"] == {
        "file_path": str(data / "2023-11-14/t0_231114T2213_cursor.rdb"),
        "participant_file": str(data / "config/t0.yaml"),
    }
    assert first.metadata_layers == (
        ("$.metadata", {"NWBFile": {"lab": "G"}}),
        ("$.experiments.e.metadata", {"NWBFile": {"lab": "E"}}),
        ("$.experiments.e.sessions[0].metadata", {"NWBFile": {"lab": "S"}}),
    )
    assert first.global_conversion_options == {"stub_test": True}
    assert first.conversion_options == {"brand": {"sbp": {"stub_test": False}}}
    # backend: session > experiment > top level; names: the first source's stem, the backend's suffix
    assert (first.backend, second.backend, third.backend) == ("zarr", "hdf5", "zarr")
    assert first.nwbfile_path == output / "t0_231114T2213_cursor.nwb.zarr"
    assert second.nwbfile_path == output / "second.nwb"
    assert third.nwbfile_path == output / "e_2.nwb.zarr"  # a live Redis has no file name
    # backend configuration merged field by field, the most specific level winning
    assert first.backend_configuration == {
        "acquisition/sbp_samples/data": {
            "chunk_shape": [50, 128],
            "compressors": ["zstd"],
            "compressor_options": [{"level": 3}],
        },
        "acquisition/binned_spikes_samples/data": {"compressors": ["lzf"]},
    }
    assert first.backend_configuration_origins == {
        "acquisition/sbp_samples/data": "$.experiments.e.sessions[0].backend_configuration['acquisition/sbp_samples/data']",
        "acquisition/binned_spikes_samples/data": "$.backend_configuration['acquisition/binned_spikes_samples/data']",
    }
    assert second.backend_configuration["acquisition/sbp_samples/data"] == {
        "chunk_shape": [100, 128],
        "compressors": ["zstd"],
        "compressor_options": [{"level": 3}],
    }


def test_defaults_are_the_specification_folder(tmp_path):
    (task,) = plan_conversion(write(tmp_path, MINIMAL))
    assert task.nwbfile_path == tmp_path.resolve() / "block1.nwb"
    assert task.source_data == {"brand": {"file_path": str(tmp_path.resolve() / "block1.rdb")}}
    assert task.overwrite is False


@pytest.mark.parametrize(
    ("name", "backend", "expected"),
    [
        ("block1", "hdf5", "block1.nwb"),
        ("block1.nwb", "hdf5", "block1.nwb"),
        ("block1.nwb", "zarr", "block1.nwb.zarr"),
        ("block1.nwb.zarr", "zarr", "block1.nwb.zarr"),
        ("block1.zarr", "hdf5", "block1.nwb"),
        ("wnb_b.n", "hdf5", "wnb_b.n.nwb"),  # NeuroConv <= 0.10.1's .strip(".nwb") ate such names
    ],
)
def test_output_file_name(name, backend, expected):
    assert output_file_name(name, backend) == expected


# --- how the sessions are run ----------------------------------------------------------------------------


@pytest.mark.parametrize("jobs", [0, -1, 1.5, True])
def test_jobs_must_be_a_positive_integer(tmp_path, jobs):
    with pytest.raises(ValueError, match="jobs must be a positive integer"):
        run_conversion_from_yaml(write(tmp_path, MINIMAL), jobs=jobs)


def test_jobs_and_dask_together(tmp_path):
    with pytest.raises(ValueError, match="give jobs or dask_scheduler, not both"):
        run_conversion_from_yaml(write(tmp_path, MINIMAL), jobs=2, dask_scheduler="tcp://127.0.0.1:8786")


def test_overwrite_and_skip_existing_together(tmp_path):
    with pytest.raises(ValueError, match="overwrite and skip_existing exclude each other"):
        run_conversion_from_yaml(write(tmp_path, MINIMAL), overwrite=True, skip_existing=True)


def test_dask_missing_gives_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # what an environment without the extra looks like
    with pytest.raises(DaskNotInstalledError, match=r"pip install 'neuroconv-brand\[dask\]'"):
        check_execution(1, "tcp://127.0.0.1:8786")


def test_registration_lists_every_public_interface_and_converter():
    from neuroconv import BaseDataInterface, NWBConverter

    import neuroconv_brand

    public = {
        name
        for name in neuroconv_brand.__all__
        if isinstance(getattr(neuroconv_brand, name), type)
        and issubclass(getattr(neuroconv_brand, name), BaseDataInterface | NWBConverter)
    }
    assert set(brand_classes()) == public
    assert len(public) == 9
