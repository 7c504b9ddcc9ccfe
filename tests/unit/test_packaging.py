"""Packaging: every package is declared, and a built wheel ships and loads the JSON Schemas."""

import configparser
import importlib.util
import os
import shutil
import site
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
SCHEMAS = ROOT / "schemas"
#: What a wheel build reads from the checkout.
BUILD_INPUTS = ("setup.cfg", "pyproject.toml", "README.md", "LICENSE", "src", "schemas")


def setup_cfg() -> configparser.ConfigParser:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    return config


def declared_packages() -> list[str]:
    return setup_cfg()["options"]["packages"].split()


def test_every_package_folder_is_declared():
    on_disk = sorted(
        ".".join(init.parent.relative_to(SRC).parts)
        for init in (SRC / "neuroconv_brand").rglob("__init__.py")
    )
    assert on_disk[0] == "neuroconv_brand"
    missing = sorted(set(on_disk) - set(declared_packages()))
    assert missing == [], f"add these packages to setup.cfg [options] packages: {missing}"


def test_every_declared_package_exists():
    package_dir = setup_cfg()["options"]["package_dir"]
    assert "neuroconv_brand.schemas = schemas" in [line.strip() for line in package_dir.splitlines()]
    for package in declared_packages():
        folder = SCHEMAS if package == "neuroconv_brand.schemas" else SRC.joinpath(*package.split("."))
        assert (folder / "__init__.py").is_file(), (
            f"setup.cfg declares {package}, but {folder} has no __init__.py"
        )


def copy_build_inputs(target: Path) -> Path:
    """A copy of what the build reads, so building never writes build/ or egg-info into the checkout."""
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
    target.mkdir()
    for name in BUILD_INPUTS:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=ignore)
        elif source.is_file():
            shutil.copy2(source, target / name)
    return target


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False, **kwargs)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.mark.slow
def test_wheel_ships_schemas_and_loads_them_when_installed(tmp_path):
    # --no-build-isolation builds with this environment's setuptools: it needs bdist_wheel (from the wheel
    # package, or built into setuptools >= 70.1).
    if (
        importlib.util.find_spec("wheel") is None
        and importlib.util.find_spec("setuptools.command.bdist_wheel") is None
    ):
        pytest.fail(
            "building the wheel needs the build requirements here: pip install 'setuptools>=68' wheel"
        )
    tree = copy_build_inputs(tmp_path / "tree")
    wheels = tmp_path / "wheels"
    run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), "."],
        cwd=tree,
    )
    (wheel,) = wheels.glob("neuroconv_brand-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    expected_schemas = {f"neuroconv_brand/schemas/{path.name}" for path in SCHEMAS.glob("*.json")}
    assert {
        "neuroconv_brand/schemas/participant.schema.json",
        "neuroconv_brand/schemas/devices.schema.json",
    } <= (expected_schemas)
    assert expected_schemas <= names
    assert "neuroconv_brand/schemas/__init__.py" in names
    assert "neuroconv_brand/cli/main.py" in names

    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)])
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    # This interpreter may itself be a venv, whose packages --system-site-packages does not reach: expose
    # its site-packages (the dependencies) by a plain path entry, which does not run the editable install's
    # own .pth hook, so only the wheel provides neuroconv_brand.
    venv_site = Path(
        run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip()
    )
    outer = dict.fromkeys([*site.getsitepackages(), sysconfig.get_paths()["purelib"]])
    (venv_site / "outer-dependencies.pth").write_text("".join(f"{path}\n" for path in outer))
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-deps",
            "--no-index",
            str(wheel),
        ]
    )

    check = (
        "import neuroconv_brand, pathlib, sys\n"
        "from neuroconv_brand.schemas_io import load_schema\n"
        "print(pathlib.Path(neuroconv_brand.__file__).resolve())\n"
        "print(load_schema('participant')['title'])\n"
        "print(load_schema('devices')['type'])\n"
    )
    module_file, title, devices_type = run([str(python), "-c", check], cwd=tmp_path).stdout.splitlines()
    assert Path(module_file).is_relative_to(venv.resolve())
    assert (title, devices_type) == ("BRAND participant file", "array")
