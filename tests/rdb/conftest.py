"""Fixtures of the direct RDB reader tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from .recorded import RECORDED, Recorded, load_recorded


@pytest.fixture(params=RECORDED, scope="session")
def recorded(request) -> Recorded:
    """Each recorded fixture in turn (Redis 6.2 -> RDB 9, Redis 7.0 -> RDB 10)."""
    return load_recorded(request.param)


@pytest.fixture
def write(tmp_path) -> Callable[..., Path]:
    """Write bytes to a file in a temporary folder and return its path."""

    def _write(data: bytes, name: str = "dump.rdb") -> Path:
        path = tmp_path / name
        path.write_bytes(data)
        return path

    return _write
