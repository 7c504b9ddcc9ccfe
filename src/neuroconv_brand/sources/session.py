"""Open, share and close a BRAND source: a live Redis (URL or unix socket), a ``.rdb`` file, or a client.

One source is opened once per process: interfaces built separately from the same URL or ``.rdb`` path
(as NeuroConv's YAML runner does, from plain ``source_data``) share one :class:`BrandSession`, hence one
client and at most one embedded server. Sessions are reference counted and released by the last user.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import threading
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ..errors import GraphError, NoSupergraphError, RdbFileError, SourceError
from ..graph.stream_specs import StreamSpec
from ..graph.supergraph import Graph
from .base import StreamSource
from .context import SessionContext
from .redis_server import EmbeddedRedisServer, read_rdb_version
from .timeouts import DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT

if TYPE_CHECKING:  # redis-py is imported to connect: a .rdb file read directly needs none (0.1 s at startup)
    import redis  # noqa: F401 (named in SourceLike)

#: The stream in which BRAND's supervisor publishes the graph model (one entry per load/update).
SUPERGRAPH_STREAM = "supergraph_stream"

SourceLike = "str | os.PathLike | redis.Redis"
RdbReader = Literal["auto", "direct", "server"]


@dataclass(frozen=True)
class SourceLocation:
    """Where a source is, classified: ``kind`` is ``"url"``, ``"unix"``, ``"rdb"`` or ``"client"``."""

    kind: Literal["url", "unix", "rdb", "client"]
    target: str
    description: str


def _is_redis_client(source: object) -> bool:
    redis_module = sys.modules.get("redis")  # a client exists only once redis-py is imported
    return redis_module is not None and isinstance(source, redis_module.Redis)


def locate_source(source: SourceLike) -> SourceLocation:
    """Classify a user-given source and check that it exists.

    Raises
    ------
    SourceError
        When the string is neither a Redis URL nor an existing socket or file, with what was expected.
    """
    if _is_redis_client(source):
        return SourceLocation("client", f"client-{id(source)}", "the given redis.Redis client")
    text = os.fspath(source)
    if text.startswith(("redis://", "rediss://", "unix://")):
        return SourceLocation("url", text, _redact_password(text))
    path = Path(text).expanduser()
    if path.exists():
        mode = path.stat().st_mode
        if stat.S_ISSOCK(mode):
            resolved = str(path.resolve())
            return SourceLocation("unix", resolved, f"unix socket {resolved}")
        if stat.S_ISREG(mode):
            resolved = str(path.resolve())
            return SourceLocation("rdb", resolved, f"{resolved}")
        raise SourceError(f"{path} is neither a unix socket nor a .rdb file.")
    if path.suffix.lower() == ".rdb":
        raise RdbFileError(f"{path}: no such file. Check the path of the dump.rdb to convert.")
    raise SourceError(
        f"'{text}' is not a Redis URL, an existing unix socket or an existing .rdb file. Expected e.g. "
        "redis://localhost:6379/0, rediss://user:password@host:6380/0, /var/run/redis.sock or "
        "/data/t1/2024-01-01/RawData/RDB/t1_240101T1200_graph.rdb."
    )


def _redact_password(url: str) -> str:
    scheme, _, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at:
        return url
    user = credentials.partition(":")[0]
    return f"{scheme}://{user + ':' if user else ':'}***@{host}"


class BrandSession:
    """An open BRAND source, shared by everything that reads it in this process.

    Create sessions with :meth:`open` (not the constructor): it returns the existing session for the same
    source and counts users. Use it as a context manager or call :meth:`close` once per :meth:`open`.

    Attributes
    ----------
    source : StreamSource
        The reading backend.
    location : SourceLocation
        What was opened.

    Examples
    --------
    >>> with BrandSession.open("dump.rdb") as session:  # doctest: +SKIP
    ...     print(session.source.stream_names())
    """

    _registry: dict[tuple, BrandSession] = {}
    _lock = threading.RLock()

    def __init__(self, source: StreamSource, location: SourceLocation, registry_key: tuple, closers=()):
        self.source = source
        self.location = location
        self._registry_key = registry_key
        self._closers = list(closers)
        self._users = 1
        #: The per-session state (graph, start time, clock fits, spool), closed with the session.
        self.context = SessionContext()

    @classmethod
    def open(
        cls,
        source: SourceLike,
        *,
        redis_server_path: str | os.PathLike | None = None,
        rdb_reader: RdbReader = "auto",
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    ) -> BrandSession:
        """Open ``source``, or return the session already open for it (one more user).

        Parameters
        ----------
        source : str, path or redis.Redis
            ``redis://[user:password@]host:port/db``, ``rediss://...`` (TLS), ``unix:///path``, a unix socket
            path, a path to a ``.rdb`` file, or an existing client (which is never closed by the session).
        redis_server_path : path, optional
            For ``.rdb`` files: the redis-server to load the file with (implies ``rdb_reader="server"``).
        rdb_reader : {"auto", "direct", "server"}
            For ``.rdb`` files: ``"direct"`` (and ``"auto"``, the default) parses the file itself, any RDB
            version, no server needed; ``"server"`` loads it into an embedded redis-server instead (implied by
            ``redis_server_path``).
        read_timeout : float
            Seconds a single read may take on a live server.
        connect_timeout : float
            Seconds to connect to a live server before reporting it unreachable.
        """
        if rdb_reader not in ("auto", "direct", "server"):
            raise ValueError(f"rdb_reader must be 'auto', 'direct' or 'server', not {rdb_reader!r}")
        location = locate_source(source)
        if redis_server_path is not None and rdb_reader == "auto":
            rdb_reader = "server"
        registry_key = (location.kind, location.target, rdb_reader if location.kind == "rdb" else None)
        with cls._lock:
            existing = cls._registry.get(registry_key)
            if existing is not None:
                existing._users += 1
                return existing
            timeouts = dict(read_timeout=read_timeout, connect_timeout=connect_timeout)
            session = cls._create(source, location, registry_key, redis_server_path, rdb_reader, timeouts)
            cls._registry[registry_key] = session
            return session

    @classmethod
    def _create(cls, source, location, registry_key, redis_server_path, rdb_reader, timeouts):
        if location.kind == "rdb":
            read_rdb_version(location.target)  # fails early, with a clear message, on a non-RDB file
            if rdb_reader in ("auto", "direct"):
                from .rdb import RdbStreamSource

                return cls(RdbStreamSource(location.target), location, registry_key)
        from .redis_source import RedisStreamSource, make_client  # imports redis-py

        if location.kind == "client":
            return cls(
                RedisStreamSource(source, location.description, owns_client=False), location, registry_key
            )
        if location.kind == "url":
            client = make_client(url=location.target, connect_timeout=timeouts["connect_timeout"])
            source = RedisStreamSource(client, location.description, read_timeout=timeouts["read_timeout"])
            return cls(source, location, registry_key)
        if location.kind == "unix":
            client = make_client(
                unix_socket_path=location.target, connect_timeout=timeouts["connect_timeout"]
            )
            source = RedisStreamSource(client, location.description, read_timeout=timeouts["read_timeout"])
            return cls(source, location, registry_key)
        server = EmbeddedRedisServer(location.target, redis_server_path=redis_server_path)
        try:
            stream_source = RedisStreamSource(server.client(), location.description, read_timeout=None)
        except BaseException:
            server.close()
            raise
        return cls(stream_source, location, registry_key, closers=[server.close])

    @property
    def users(self) -> int:
        """How many :meth:`open` calls share this session and have not closed it yet."""
        return self._users

    @property
    def closed(self) -> bool:
        """True once the last user closed the session."""
        return self._users <= 0

    def supergraph(self) -> dict:
        """The graph model from the latest ``supergraph_stream`` entry (BRAND re-adds it on every update).

        Raises
        ------
        NoSupergraphError
            If the source has no (or an empty) ``supergraph_stream``.
        """
        try:
            latest = self.source.read_latest(SUPERGRAPH_STREAM, 1)
        except KeyError:
            latest = []
        if not latest:
            raise NoSupergraphError(
                f"{self.location.description} has no '{SUPERGRAPH_STREAM}': it is not a BRAND session, or the "
                "graph was flushed before saving. Check that this is the right database/file."
            )
        raw_id, fields = latest[0]
        payload = fields.get(b"data")
        try:
            model = json.loads(payload)
        except (TypeError, ValueError):
            raise NoSupergraphError(
                f"{self.location.description}: '{SUPERGRAPH_STREAM}' entry {raw_id.decode()} has no JSON 'data' "
                "field, so the graph cannot be read."
            ) from None
        if not isinstance(model, dict):
            raise NoSupergraphError(
                f"{SUPERGRAPH_STREAM} entry {raw_id.decode()}: 'data' is not a JSON object."
            )
        return model

    def graph(
        self, brand_base_dir: str | os.PathLike | None = None, derivative: str | None = None, **options
    ) -> Graph:
        """The parsed :class:`~neuroconv_brand.graph.supergraph.Graph`, built once per set of options.

        ``derivative`` names the exportNWB derivative whose parameters configure the export (default: the
        graph's exportNWB derivative); ``options`` go to :meth:`Graph.from_supergraph`.
        """
        if derivative is not None:
            options["derivative"] = derivative
        cache_key = (str(brand_base_dir), json.dumps(options, sort_keys=True, default=str))
        graphs = self.context.graphs
        if cache_key not in graphs:
            graphs[cache_key] = Graph.from_supergraph(
                self.supergraph(), brand_base_dir=brand_base_dir, **options
            )
        return graphs[cache_key]

    def close(self) -> None:
        """Release one user; the last one closes the source and any embedded server."""
        with self._lock:
            if self._users <= 0:
                return
            self._users -= 1
            if self._users > 0:
                return
            self._registry.pop(self._registry_key, None)
        try:
            self.source.close()
        finally:
            try:
                self.context.close()
            finally:
                for closer in self._closers:
                    closer()

    def __enter__(self) -> BrandSession:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"BrandSession({self.location.description!r}, users={self._users})"


def open_session_graph(
    owner: object,
    file_path: SourceLike,
    brand_base_dir: str | os.PathLike | None = None,
    derivative: str | None = None,
    redis_server_path: str | os.PathLike | None = None,
) -> tuple[BrandSession, Graph]:
    """Open ``file_path``'s session for ``owner`` and read its graph (what every interface and extractor does first).

    The session is shared with everything else that opened the same source, and ``owner``'s use of it ends when
    ``owner`` is garbage-collected.

    Parameters
    ----------
    owner : object
        The interface or extractor that reads the session.
    file_path : str, path or redis.Redis
        The source (see :meth:`BrandSession.open`).
    brand_base_dir, derivative
        See :meth:`BrandSession.graph`.
    redis_server_path : path, optional
        See :meth:`BrandSession.open`.

    Returns
    -------
    tuple of (BrandSession, Graph)
    """
    session = BrandSession.open(file_path, redis_server_path=redis_server_path)
    weakref.finalize(owner, session.close)
    return session, session.graph(brand_base_dir=brand_base_dir, derivative=derivative)


def find_stream_spec(session: BrandSession, graph: Graph, stream_name: str) -> StreamSpec:
    """The graph's spec of ``stream_name``, checked to be present in ``session``'s source.

    Raises
    ------
    GraphError
        When the graph does not define the stream (listing the streams it knows), or the source does not hold
        it (a stream flushed before the ``.rdb`` was saved).
    """
    spec = graph.get_stream(stream_name)
    if stream_name not in set(session.source.stream_names()):
        raise GraphError(
            f"stream '{stream_name}' is defined in the graph but absent from {session.location.description} "
            "(flushed before saving?)."
        )
    return spec
