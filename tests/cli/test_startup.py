"""Startup: the package and the command's help load no conversion library; NeuroConv still finds our classes.

Each check runs in a fresh interpreter, since this test process has long imported everything.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from neuroconv_brand.apps.neuroconv_registration import REGISTERED_NAMES, brand_classes

#: What only a conversion needs (a few seconds of imports together).
HEAVY = ("neuroconv", "pynwb", "spikeinterface", "hdmf", "h5py")
COMMANDS = ("inspect", "convert", "run-yaml", "exportnwb", "validate", "demo")


def run_python(code: str) -> dict:
    """Run ``code`` in a new interpreter; it prints one JSON object as its last line."""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def heavy_modules_after(statement: str) -> dict:
    return run_python(
        "import contextlib, io, json, sys\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    outcome = {statement}\n"
        f"heavy = sorted(name for name in sys.modules if name.partition('.')[0] in {HEAVY!r})\n"
        "print(json.dumps({'outcome': outcome, 'heavy': heavy}))"
    )


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
    "resolved = {name: getattr(interfaces, name).__module__ for name in ('BrandConverter', 'BrandTimeSeriesInterface')}\n"
    "listed = sorted(name for name in get_format_summaries() if name.startswith('Brand'))\n"
    "print(json.dumps({'resolved': resolved, 'listed': listed}))"
)
EXPECTED = {
    "resolved": {
        "BrandConverter": "neuroconv_brand.converter",
        "BrandTimeSeriesInterface": "neuroconv_brand.interfaces.timeseries",
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
