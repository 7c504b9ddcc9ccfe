"""Startup: the package and the command's help load no conversion library; NeuroConv still finds our classes.

A session without raw streams converts without the raw-data stack (SpikeInterface, NeuroConv's recording
interfaces); a raw stream still loads it. Each check runs in a fresh interpreter, since this test process has long
imported everything.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest
from pynwb import read_nwb

from neuroconv_brand.apps.neuroconv_registration import REGISTERED_NAMES, brand_classes
from neuroconv_brand.testing import SessionConfig, save_session_rdb

from .test_convert_and_run_yaml import write_spec
from .test_raw_stream_by_name import assert_raw_series

#: What only a conversion needs (a few seconds of imports together).
HEAVY = ("neuroconv", "pynwb", "spikeinterface", "hdmf", "h5py")
COMMANDS = ("inspect", "convert", "run-yaml", "exportnwb", "validate", "demo")
#: What only raw broadband streams need (SpikeInterface and what it brings, NeuroConv's interface catalogue).
RAW_STACK = ("spikeinterface", "probeinterface", "neuroconv.datainterfaces")


def run_python(code: str) -> dict:
    """Run ``code`` in a new interpreter; it prints one JSON object as its last line."""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def modules_after(statement: str, packages: tuple[str, ...]) -> dict:
    """The value of ``statement`` in a fresh interpreter, and the modules of ``packages`` it left loaded."""
    return run_python(
        "import contextlib, io, json, sys\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    outcome = {statement}\n"
        f"loaded = sorted(n for n in sys.modules if any(n == p or n.startswith(p + '.') for p in {packages!r}))\n"
        "print(json.dumps({'outcome': outcome, 'loaded': loaded}))"
    )


def heavy_modules_after(statement: str) -> dict:
    report = modules_after(statement, HEAVY)
    return {"outcome": report["outcome"], "heavy": report["loaded"]}


def test_importing_the_package_imports_no_conversion_library():
    report = heavy_modules_after("__import__('neuroconv_brand').__name__")
    assert report == {"outcome": "neuroconv_brand", "heavy": []}


@pytest.mark.parametrize(
    "arguments", [["--help"], ["--version"], *([command, "--help"] for command in COMMANDS)]
)
def test_help_imports_no_conversion_library(arguments):
    report = heavy_modules_after(f"__import__('neuroconv_brand.cli.main').cli.main.main({arguments!r})")
    assert report == {"outcome": 0, "heavy": []}


def test_public_names_load_on_first_use():
    report = run_python(
        "import json, neuroconv_brand as nb\n"
        "from neuroconv_brand.converter import BrandConverter\n"
        "print(json.dumps({'same': nb.BrandConverter is BrandConverter, 'listed': sorted(set(nb.__all__) - set(dir(nb))),"
        " 'version': nb.__version__, 'module': nb.read_brand.__module__}))"
    )
    assert report["same"] and report["listed"] == []
    assert report["module"] == "neuroconv_brand.extractors.recording_extractor"
    from importlib.metadata import version

    assert report["version"] == version("neuroconv-brand")


def test_unknown_attribute_is_an_attribute_error():
    import neuroconv_brand

    with pytest.raises(AttributeError, match="module 'neuroconv_brand' has no attribute 'BrandConvertor'"):
        neuroconv_brand.BrandConvertor  # noqa: B018


def test_registered_names_are_the_registered_classes():
    assert REGISTERED_NAMES == tuple(brand_classes())


# NeuroConv's run_conversion_from_yaml resolves data_interfaces names with
# getattr(import_module(".datainterfaces", package="neuroconv"), name): what these do, without dandi.
RESOLVE = (
    "from importlib import import_module\n"
    "from neuroconv.tools.importing import get_format_summaries\n"
    "interfaces = import_module('.datainterfaces', package='neuroconv')\n"
    "names = ('BrandConverter', 'BrandTimeSeriesInterface', 'BrandRecordingInterface')\n"
    "resolved = {name: getattr(interfaces, name).__module__ for name in names}\n"
    "listed = sorted(name for name in get_format_summaries() if name.startswith('Brand'))\n"
    "print(json.dumps({'resolved': resolved, 'listed': listed}))"
)
EXPECTED = {
    "resolved": {
        "BrandConverter": "neuroconv_brand.converter",
        "BrandTimeSeriesInterface": "neuroconv_brand.interfaces.timeseries",
        "BrandRecordingInterface": "neuroconv_brand.interfaces.recording",
    },
    "listed": sorted(REGISTERED_NAMES),
}


@pytest.mark.parametrize(
    "before",
    [
        "import neuroconv_brand",  # NeuroConv loads its interfaces later (the one-time import hook)
        "import neuroconv.datainterfaces, neuroconv_brand",  # already loaded: registered at once
        # neuroconv.converters imports neuroconv.datainterfaces half-way through its own import
        "import neuroconv_brand, neuroconv.converters",
    ],
)
def test_importing_the_package_registers_with_neuroconvs_runner(before):
    assert run_python(f"import json\n{before}\n{RESOLVE}") == EXPECTED


def test_names_resolve_when_neuroconv_was_loaded_by_our_own_classes():
    # Loading BrandConverter imports neuroconv.datainterfaces while our modules are half-imported: the names
    # then resolve at the first look-up instead (get_format_summaries lists them from then on).
    report = run_python(f"import json\nfrom neuroconv_brand import BrandConverter\n{RESOLVE}")
    assert report == EXPECTED


def convert_statement(how: str, rdb_path, output) -> str:
    """A statement converting ``rdb_path`` to ``output`` (uncompressed) through the CLI, the API or run-yaml."""
    if how == "api":
        converter = f"__import__('neuroconv_brand').BrandConverter(file_path={str(rdb_path)!r})"
        return f"str({converter}.write({str(output)!r}, compression='none'))"
    if how == "convert":
        arguments = ["convert", str(rdb_path), "-o", str(output), "--compression", "none"]
    else:
        spec = write_spec(output.parent, "startup", {output.stem: rdb_path})
        arguments = ["run-yaml", str(spec), "--output-folder-path", str(output.parent)]
    return f"__import__('neuroconv_brand.cli.main').cli.main.main({arguments!r})"


@pytest.mark.parametrize("how", ["convert", "api", "run-yaml"])
def test_a_session_without_raw_streams_converts_without_the_raw_data_stack(clean_session, tmp_path, how):
    output = tmp_path / "processed.nwb"
    report = modules_after(convert_statement(how, clean_session.rdb_path, output), RAW_STACK)
    assert report["loaded"] == []
    assert report["outcome"] == (str(output) if how == "api" else 0)
    nwbfile = read_nwb(output)
    truth = clean_session.truth.streams["sbp"].fields["samples"]
    np.testing.assert_array_equal(nwbfile.acquisition["sbp_samples"].data[:], truth.reshape(len(truth), -1))
    assert len(nwbfile.trials) == len(clean_session.truth.trials)


def test_converting_an_rdb_file_read_directly_imports_no_redis_client(clean_session, tmp_path):
    # redis-py (0.1 s of imports) is for live servers and the embedded one; the direct reader needs none
    output = tmp_path / "processed.nwb"
    report = modules_after(convert_statement("convert", clean_session.rdb_path, output), ("redis",))
    assert report == {"outcome": 0, "loaded": []}
    assert len(read_nwb(output).trials) == len(clean_session.truth.trials)


def test_a_raw_stream_loads_the_raw_data_stack_and_converts(tmp_path):
    truth = save_session_rdb(SessionConfig(duration_s=1.0, raw=True, seed=7), tmp_path / "raw.rdb", tmp_path)
    output = tmp_path / "raw.nwb"
    arguments = ["convert", str(tmp_path / "raw.rdb"), "-o", str(output), "--include-raw"]
    report = modules_after(f"__import__('neuroconv_brand.cli.main').cli.main.main({arguments!r})", RAW_STACK)
    assert report["outcome"] == 0
    assert "spikeinterface.core" in report["loaded"]
    assert_raw_series(output, truth)


def test_convert_reads_a_raw_stream_once_importing_neuroconv_while_the_workers_decode(tmp_path):
    truth = save_session_rdb(SessionConfig(duration_s=1.0, raw=True, seed=7), tmp_path / "raw.rdb", tmp_path)
    output = tmp_path / "raw.nwb"
    arguments = [
        "convert",
        str(tmp_path / "raw.rdb"),
        "-o",
        str(output),
        "--include-raw",
        "--read-workers",
        "2",
    ]
    report = run_python(
        "import contextlib, gc, io, json, sys\n"
        "from neuroconv_brand.extractors import recording_index\n"
        "passes, original, full = [], recording_index.forked_map, []\n"
        "gc.callbacks.append(lambda phase, info: full.append(1) if info['generation'] == 2 else None)\n"
        "def probe(session, function, jobs, workers):\n"
        "    loaded = lambda: ['pynwb' in sys.modules, 'spikeinterface' in sys.modules]\n"
        "    before, collections = loaded(), len(full)\n"
        "    results = original(session, function, jobs, workers)\n"
        "    passes.append([jobs[0][0].spec.name, before, loaded(), len(full) - collections,\n"
        "                   gc.get_freeze_count(), gc.isenabled()])\n"
        "    return results\n"
        "recording_index.forked_map = probe\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    code = __import__('neuroconv_brand.cli.main').cli.main.main({arguments!r})\n"
        "print(json.dumps({'code': code, 'passes': passes}))"
    )
    assert report["code"] == 0
    # One pass over the raw stream (the converter's interface reuses its index), with NeuroConv, pynwb and
    # SpikeInterface imported by this process while the forked workers read ...
    [(stream, before, after, full_collections, frozen, collector_on)] = report["passes"]
    assert (stream, before, after) == ("nsp_neural", [False, False], [True, True])
    # ... with the garbage collector paused for the imports (no full collection), then on again, and the
    # libraries' objects frozen (later collections skip them).
    assert full_collections == 0 and collector_on and frozen > 10_000
    assert_raw_series(output, truth)


def test_the_recording_interface_loads_on_first_use():
    statement = (
        "(lambda nb, interfaces, spec: (sorted(n for n in sys.modules if n.startswith('spikeinterface')), "
        "[cls.__module__ + ':' + cls.__name__ for cls in (nb.BrandRecordingInterface, "
        "interfaces.BrandRecordingInterface, spec.resolve_interface('BrandRecordingInterface'), "
        "spec.resolve_interface('neuroconv_brand.interfaces:BrandRecordingInterface'), "
        "spec.resolve_interface('neuroconv_brand:BrandRecordingInterface'))]))"
        "(*map(__import__('importlib').import_module, "
        "('neuroconv_brand', 'neuroconv_brand.interfaces', 'neuroconv_brand.apps.yaml_specification')))"
    )
    report = modules_after(statement, RAW_STACK)
    before, classes = report["outcome"]
    assert before == []  # importing the interfaces and the YAML runner loads no SpikeInterface
    assert classes == ["neuroconv_brand.interfaces.recording:BrandRecordingInterface"] * 5
    assert "spikeinterface.core" in report["loaded"]


def test_unknown_interface_name_is_an_attribute_error():
    from neuroconv_brand import interfaces

    message = "module 'neuroconv_brand.interfaces' has no attribute 'BrandRecordingInterfaces'"
    with pytest.raises(AttributeError, match=re.escape(message)):
        interfaces.BrandRecordingInterfaces  # noqa: B018


def test_the_command_collects_its_garbage_then_freezes_the_rest_at_exit(clean_session, tmp_path):
    # The probe is registered before main runs, so it runs after main's exit hook (atexit: last in, first out).
    spool, output = tmp_path / "spool", tmp_path / "exit.nwb"
    spool.mkdir()
    arguments = ["convert", str(clean_session.rdb_path), "-o", str(output), "--spool-dir", str(spool)]
    report = run_python(
        "import atexit, gc, json, os\n"
        "from neuroconv_brand.cli.main import main\n"
        "def probe():\n"
        f"    print(json.dumps({{'frozen': gc.get_freeze_count(), 'garbage': gc.collect(), 'spool': os.listdir({str(spool)!r})}}))\n"
        "atexit.register(probe)\n"
        f"assert main({arguments!r}) == 0 and gc.get_freeze_count() == 0\n"
    )
    assert report["garbage"] == 0  # everything the command dropped was collected (and finalized) first
    assert report["frozen"] > 10_000  # the libraries' objects, which the shutdown then leaves alone
    assert report["spool"] == []
    assert len(read_nwb(output).trials) == len(clean_session.truth.trials)
