"""A live Redis server (TCP, TLS or unix socket) as a :class:`StreamSource`.

Only read commands are sent (SCAN, TYPE, XLEN, XRANGE, XREVRANGE, PING, and TIME if allowed), so a user restricted to
``+@read`` is enough. redis-py errors are translated into the package's hierarchy at this boundary.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from ..errors import SourceAuthenticationError, SourceConnectionError, SourceError
from .base import Entry, StreamSource, StreamStats
from .entry_ids import EntryId
from .timeouts import DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT


def make_client(
    url: str | None = None,
    unix_socket_path: str | None = None,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
) -> redis.Redis:
    """A redis-py client with deliberate timeouts and two quick retries (reads are idempotent).

    The client starts with the short ``connect_timeout`` for every socket operation, so that a wrong port or
    a TLS handshake with a plain server fails in seconds; :class:`RedisStreamSource` raises it to
    ``read_timeout`` once the server has answered a PING.

    Parameters
    ----------
    url : str, optional
        ``redis://[user:password@]host:port/db``, ``rediss://...`` (TLS) or ``unix://path``.
    unix_socket_path : str, optional
        A socket path, instead of ``url``.
    connect_timeout : float
        Seconds for connecting (and, until the first PING succeeds, for any socket operation).
    """
    options = dict(
        socket_timeout=connect_timeout,
        socket_connect_timeout=connect_timeout,
        retry=Retry(ExponentialBackoff(cap=1.0, base=0.1), 2),
        decode_responses=False,
    )
    if url is not None:
        return redis.Redis.from_url(url, **options)
    return redis.Redis(unix_socket_path=unix_socket_path, **options)


@contextlib.contextmanager
def translated_redis_errors(description: str) -> Iterator[None]:
    """Turn redis-py exceptions into :mod:`neuroconv_brand.errors` with an actionable message."""
    try:
        yield
    except redis.exceptions.AuthenticationError as error:
        raise SourceAuthenticationError(
            f"{description}: authentication failed ({error}). Check the user name and password in the URL "
            "(redis://user:password@host:port/db)."
        ) from None
    except redis.exceptions.NoPermissionError as error:
        raise SourceAuthenticationError(
            f"{description}: the Redis user lacks a permission the converter needs ({error}). It needs the read "
            "commands only: e.g. `ACL SETUSER <user> on >pw ~* +@read +@connection`."
        ) from None
    except redis.exceptions.BusyLoadingError:
        raise SourceConnectionError(
            f"{description}: the server is still loading its dataset; try again when it has finished."
        ) from None
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError) as error:
        if "SSL" in str(error) or "certificate" in str(error):
            raise SourceConnectionError(
                f"{description}: the TLS handshake failed ({error}). Check the server's certificate (pass the CA with "
                "?ssl_ca_certs=/path/ca.pem in the URL) or use redis:// if the server does not speak TLS."
            ) from None
        raise SourceConnectionError(
            f"{description}: cannot reach the Redis server ({error}). Is it running, and are host, port or "
            "socket path right?"
        ) from None
    except redis.exceptions.ResponseError as error:
        raise SourceError(f"{description}: the server refused a read command: {error}") from None


def _to_str(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisStreamSource(StreamSource):
    """Read streams from a live Redis through a redis-py client.

    Parameters
    ----------
    client : redis.Redis
        The client (``decode_responses=False``). It is closed by :meth:`close` only if ``owns_client``.
    description : str
        How to name this source in messages.
    owns_client : bool
        Whether :meth:`close` closes the client.
    read_timeout : float, optional
        Once the server answered, the socket timeout for reads (only applied to clients this source owns).
    """

    def __init__(
        self,
        client: redis.Redis,
        description: str,
        owns_client: bool = True,
        read_timeout: float | None = DEFAULT_READ_TIMEOUT,
        cut: bool = True,
    ):
        self.client = client
        self.description = description
        self._owns_client = owns_client
        with translated_redis_errors(description):
            client.ping()
        if owns_client and read_timeout is not None:
            client.connection_pool.connection_kwargs["socket_timeout"] = read_timeout
            client.connection_pool.disconnect()  # the next command reconnects with the read timeout
        #: Every read ends at this id: the instant the source was opened (None reads to the current end).
        self.cut: EntryId | None = None
        if cut:
            self.cut = self._take_cut()

    def _take_cut(self) -> EntryId | None:
        """Everything before the server's current millisecond (TIME), else up to the newest entry.

        Redis gives a new entry an id at or after its clock's current millisecond, so no entry can be added at
        or before the cut after this: every stream read up to it is a snapshot of one instant. A user limited to
        ``+@read`` may not run TIME; the cut is then the newest entry id of any stream (exact to the millisecond:
        another stream may still add an entry in that millisecond).
        """
        with translated_redis_errors(self.description):
            try:
                seconds, microseconds = self.client.time()
            except redis.exceptions.NoPermissionError:
                return self.newest_entry_id()
        return EntryId.last_of(int(seconds) * 1000 + int(microseconds) // 1000 - 1)

    def snapshot_end(self) -> EntryId | None:
        """The cut taken when the source was opened (see :meth:`StreamSource.snapshot_end`)."""
        return self.cut if self.cut is not None else self.newest_entry_id()

    def _end(self, end: EntryId | None) -> EntryId | None:
        return end if self.cut is None or (end is not None and end <= self.cut) else self.cut

    def stream_names(self) -> list[str]:
        """Every key of type stream (``SCAN ... TYPE stream``; per-key TYPE on Redis < 6)."""
        with translated_redis_errors(self.description):
            try:
                names = self.client.scan_iter(count=1000, _type="stream")
                return sorted(_to_str(name) for name in names)
            except redis.exceptions.ResponseError:
                keys = list(self.client.scan_iter(count=1000))
                types = self.client.pipeline(transaction=False)
                for key in keys:
                    types.type(key)
                return sorted(_to_str(k) for k, t in zip(keys, types.execute()) if _to_str(t) == "stream")

    def stream_stats(self, stream: str) -> StreamStats:
        """Length (XLEN) and first/last ids up to the cut (XRANGE / XREVRANGE COUNT 1).

        On a stream still being written, the length also counts the entries added after the cut.
        """
        end = str(self.cut) if self.cut is not None else "+"
        with translated_redis_errors(self.description):
            pipe = self.client.pipeline(transaction=False)
            pipe.type(stream).xlen(stream)
            pipe.execute_command("XRANGE", stream, "-", end, "COUNT", 1)
            pipe.execute_command("XREVRANGE", stream, end, "-", "COUNT", 1)
            key_type, length, first, last = pipe.execute()
        if _to_str(key_type) != "stream":
            raise KeyError(stream)
        return StreamStats(
            length=int(length),
            first_id=EntryId.parse(first[0][0]) if first else None,
            last_id=EntryId.parse(last[0][0]) if last else None,
        )

    def read_range(
        self, stream: str, start: EntryId | None = None, end: EntryId | None = None, count: int | None = None
    ) -> list[Entry]:
        """XRANGE stream start end [COUNT count] (``end`` no later than the cut)."""
        end = self._end(end)
        with translated_redis_errors(self.description):
            return self.client.xrange(
                stream, min=str(start) if start else "-", max=str(end) if end else "+", count=count
            )

    def read_latest(self, stream: str, count: int = 1) -> list[Entry]:
        """XREVRANGE stream cut - COUNT count (``+`` without a cut)."""
        with translated_redis_errors(self.description):
            return self.client.xrevrange(stream, max=str(self.cut) if self.cut else "+", count=count)

    def close(self) -> None:
        """Close the client if this source created it."""
        if self._owns_client:
            self.client.close()
