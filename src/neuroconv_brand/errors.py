"""The exception hierarchy of neuroconv-brand.

Every error the package raises on bad input derives from :class:`BrandError`, so callers (and the
command line) can catch one type. Messages name what was wrong (stream, key, entry id, file offset) and
what to do about it.
"""

from __future__ import annotations


class BrandError(Exception):
    """Base class of every error raised by neuroconv-brand."""


class SourceError(BrandError):
    """A BRAND source (live Redis, unix socket or ``.rdb`` file) cannot be opened or read."""


class SourceConnectionError(SourceError):
    """The Redis server cannot be reached, or went away during a read."""


class SourceAuthenticationError(SourceError):
    """The Redis server refused the credentials, or the user lacks a permission the converter needs."""


class RdbFileError(SourceError):
    """A ``.rdb`` file is missing, truncated, corrupt or of an unsupported version."""


class RedisServerNotFoundError(SourceError):
    """No redis-server binary that can load the requested ``.rdb`` file was found."""


class NoSupergraphError(SourceError):
    """The source has no ``supergraph_stream``, so it is not a BRAND session (or the graph was flushed)."""


class UnsupportedEncodingError(SourceError):
    """Stream entries use an encoding this version does not read (e.g. the 2025 msgpack ``_hdr``/``data`` form)."""


class ConfigurationError(BrandError, ValueError):
    """An option given to the converter does not fit the data (channel map, rate, electrodes, ...)."""


class GraphError(BrandError):
    """The supergraph or a node YAML cannot be interpreted."""


class MetadataFileError(GraphError):
    """A participant, devices or array-map file is missing or cannot be interpreted."""


class StreamDecodeError(BrandError):
    """A stream entry's payload does not match its declared shape or type."""
