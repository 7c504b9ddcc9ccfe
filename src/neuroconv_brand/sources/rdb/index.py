"""The index pass: one forward walk over an RDB file that finds every key without decoding values.

For each stream it records where its nodes start, their count, the master id and file offset of every
``node_stride``-th node (checkpoints for binary search; 1 keeps every node), and the metadata after the
nodes. Keeping one node in 16 by default holds the index to about 2 bytes per node, so memory stays flat
as files grow; reaching a node from its checkpoint reads at most 15 node headers. Every other value is skipped by its encoding's structure (strings are never decompressed). The walk
also feeds the bytes it reads to the CRC-64, so verifying the checksum costs no second pass over the file.
"""

from __future__ import annotations

import os
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from . import format as fmt
from .checksum import crc64
from .errors import (
    RdbChecksumError,
    RdbCorruptError,
    RdbHeaderError,
    RdbModuleError,
    RdbNotFoundError,
    RdbUnknownTypeError,
    RdbVersionError,
)
from .primitives import RdbCursor, read_at
from .streams import StreamMetadata, read_stream_tail

#: Bytes read from disk at a time during the index pass.
INDEX_CHUNK_SIZE = 8 << 20


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """One key of the file.

    Attributes
    ----------
    db : int
        Database number.
    name : bytes
        The key.
    rdb_type : int
        RDB value type (see :mod:`neuroconv_brand.sources.rdb.format`).
    offset : int
        Byte offset of the value type byte.
    expire_ms : int or None
        Absolute expiry time (Unix ms), if the key has one.
    valkey : bool
        The file is in Valkey's own format, where value types from 22 on differ from Redis'.
    """

    db: int
    name: bytes
    rdb_type: int
    offset: int
    expire_ms: int | None
    valkey: bool = False

    def _type_info(self) -> tuple[str, str]:
        if self.valkey and self.rdb_type in fmt.VALKEY_TYPE_INFO:
            return fmt.VALKEY_TYPE_INFO[self.rdb_type]
        return fmt.TYPE_INFO[self.rdb_type]

    @property
    def type_name(self) -> str:
        """The Redis data type (``"stream"``, ``"hash"``, ...)."""
        return self._type_info()[0]

    @property
    def encoding(self) -> str:
        """The on-disk encoding (``"listpacks2"``, ``"intset"``, ...)."""
        return self._type_info()[1]


@dataclass
class StreamIndex:
    """Where one stream's nodes are and what its metadata says.

    Attributes
    ----------
    key : KeyInfo
        The stream's key.
    first_node_offset : int
        Byte offset of the first node's master id.
    node_count : int
        Number of listpack nodes.
    checkpoint_nodes, checkpoint_offsets : numpy.ndarray
        Node numbers and byte offsets of every ``node_stride``-th node (int64).
    checkpoint_ms, checkpoint_seq : numpy.ndarray
        Their master ids (uint64), strictly increasing: the binary-search index of the stream.
    metadata : StreamMetadata
        Length, ids and consumer group summary.
    """

    key: KeyInfo
    first_node_offset: int
    node_count: int
    checkpoint_nodes: np.ndarray
    checkpoint_offsets: np.ndarray
    checkpoint_ms: np.ndarray
    checkpoint_seq: np.ndarray
    metadata: StreamMetadata


@dataclass
class RdbIndex:
    """Everything the index pass found.

    Attributes
    ----------
    path : str
        The file.
    size : int
        File size in bytes.
    version : int
        RDB format version.
    magic : bytes
        ``b"REDIS"``, or ``b"VALKEY"`` for Valkey's own format (Valkey 9+).
    aux : dict
        AUX fields (``redis-ver``, ``ctime``, ...), names and values as bytes.
    keys : list of KeyInfo
        Every key in file order.
    streams : dict
        ``(db, name) -> StreamIndex`` for every stream.
    eof_offset : int
        Offset of the EOF opcode.
    stored_checksum : int or None
        The CRC-64 stored after EOF (None before RDB 5; 0 means "not computed").
    checksum_verified : bool
        Whether the stored checksum was checked against the contents (and matched).
    functions : int
        Number of function libraries (FUNCTION2 / pre-GA function records).
    module_aux : int
        Number of MODULE_AUX records.
    """

    path: str
    size: int
    version: int
    magic: bytes = fmt.MAGIC
    aux: dict[bytes, bytes] = field(default_factory=dict)
    keys: list[KeyInfo] = field(default_factory=list)
    streams: dict[tuple[int, bytes], StreamIndex] = field(default_factory=dict)
    eof_offset: int = 0
    stored_checksum: int | None = None
    checksum_verified: bool = False
    functions: int = 0
    module_aux: int = 0


def open_rdb(path: str | os.PathLike):
    """Open ``path`` for reading, raising :class:`RdbNotFoundError` with a clear message."""
    text = os.fspath(path)
    if not os.path.isfile(text):
        raise RdbNotFoundError(f"{text}: no such file. Check the path of the dump.rdb to read.")
    try:
        return open(text, "rb", buffering=0)
    except OSError as error:
        raise RdbNotFoundError(f"{text}: cannot be opened ({error.strerror}).") from None


def read_header(path: str, header: bytes) -> tuple[bytes, int]:
    """Check the 9-byte header and return the magic (``b"REDIS"`` or ``b"VALKEY"``) and the RDB version."""
    parsed = fmt.parse_header(header)
    if parsed is None:
        raise RdbHeaderError(
            f"{path}: not a Redis RDB file (it starts with {header[:9]!r}; an RDB file starts with b'REDIS' "
            "and a 4-digit version such as b'REDIS0010', or with b'VALKEY' and a 3-digit version such as "
            "b'VALKEY080')."
        )
    magic, version = parsed
    if magic == fmt.VALKEY_MAGIC:
        if version not in fmt.VALKEY_VERSIONS:
            known = ", ".join(f"{v} (Valkey {release})" for v, release in fmt.VALKEY_VERSIONS.items())
            raise RdbVersionError(
                f"{path}: Valkey RDB format version {version} is not supported (this reader understands "
                f"Valkey's versions {known}, and Redis' 1 to {fmt.MAX_VERSION}). Load the file with the "
                "valkey-server that wrote it and read it over a socket instead."
            )
        return magic, version
    if not fmt.MIN_VERSION <= version <= fmt.MAX_VERSION:
        raise RdbVersionError(
            f"{path}: RDB format version {version} is not supported (this reader understands versions "
            f"{fmt.MIN_VERSION} to {fmt.MAX_VERSION}, written by Redis up to 7.4/8.0). Load the file with "
            "the redis-server that wrote it and read it over a socket instead."
        )
    return magic, version


def build_index(path: str | os.PathLike, verify_checksum: bool = True, node_stride: int = 16) -> RdbIndex:
    """Walk the whole file once and index its keys and streams.

    Parameters
    ----------
    path : path
        The ``.rdb`` file.
    verify_checksum : bool
        Compare the CRC-64 after the EOF opcode with the file's contents (when it is not 0).
    node_stride : int
        Record the offset and master id of every ``node_stride``-th stream node (1: every node).

    Raises
    ------
    RdbFileError
        A subclass naming the offset, the key and what is wrong, for any malformed file.
    """
    if node_stride < 1:
        raise ValueError("node_stride must be at least 1")
    text = os.fspath(path)
    with open_rdb(text) as handle:
        size = os.fstat(handle.fileno()).st_size
        magic, version = read_header(text, read_at(handle, 0, fmt.HEADER_SIZE))
        has_checksum = version >= fmt.CHECKSUM_SINCE_VERSION
        crc_until = size - fmt.CHECKSUM_SIZE if verify_checksum and has_checksum else None
        cursor = RdbCursor(handle, text, size, 0, INDEX_CHUNK_SIZE, crc_until)
        cursor.skip(fmt.HEADER_SIZE)
        index = RdbIndex(path=text, size=size, version=version, magic=magic)
        _Walker(cursor, index, node_stride).run()
        trailing = size - index.eof_offset - 1
        if not has_checksum and trailing > 0:
            # Without a checksum nothing else would notice a damaged version number or EOF marker.
            raise RdbCorruptError(
                text,
                index.eof_offset + 1,
                f"{trailing} byte(s) follow the EOF opcode, but a version-{version} file has no checksum "
                "after it: the version number or the EOF marker is damaged",
            )
        if has_checksum:
            cursor.key = None
            stored = cursor.uint_le(fmt.CHECKSUM_SIZE, "the CRC-64 checksum after the EOF opcode")
            index.stored_checksum = stored
            if verify_checksum and stored != 0:
                _verify_checksum(handle, index, cursor, stored)
    return index


def _verify_checksum(handle, index: RdbIndex, cursor: RdbCursor, stored: int) -> None:
    covered = index.eof_offset + 1
    if covered == index.size - fmt.CHECKSUM_SIZE:
        computed = cursor.crc
    else:  # bytes after the checksum (Redis ignores them): compute over the right span
        computed, offset = 0, 0
        while offset < covered:
            chunk = read_at(handle, offset, min(INDEX_CHUNK_SIZE, covered - offset))
            computed = crc64(chunk, computed)
            offset += len(chunk)
    if computed != stored:
        raise RdbChecksumError(
            index.path,
            covered,
            f"checksum mismatch: the file stores CRC-64 0x{stored:016x} but its contents give "
            f"0x{computed:016x}",
            advice="The file is corrupt (a flipped bit or a partial copy): copy it again from the rig. "
            "Pass verify_checksum=False to read it anyway at your own risk.",
        )
    index.checksum_verified = True


class _Walker:
    """The opcode loop of the index pass."""

    def __init__(self, cursor: RdbCursor, index: RdbIndex, node_stride: int):
        self.cursor = cursor
        self.index = index
        self.node_stride = node_stride
        self.seen: set[tuple[int, bytes]] = set()
        self.skippers: dict[int, Callable[[], None]] = {
            fmt.TYPE_STRING: self._skip_string,
            fmt.TYPE_LIST: self._skip_string_list,
            fmt.TYPE_SET: self._skip_string_list,
            fmt.TYPE_ZSET: self._skip_zset,
            fmt.TYPE_HASH: self._skip_hash,
            fmt.TYPE_ZSET_2: self._skip_zset2,
            fmt.TYPE_MODULE_PRE_GA: self._module_pre_ga,
            fmt.TYPE_MODULE_2: self._skip_module_value_with_id,
            fmt.TYPE_HASH_ZIPMAP: self._skip_string,
            fmt.TYPE_LIST_ZIPLIST: self._skip_string,
            fmt.TYPE_SET_INTSET: self._skip_string,
            fmt.TYPE_ZSET_ZIPLIST: self._skip_string,
            fmt.TYPE_HASH_ZIPLIST: self._skip_string,
            fmt.TYPE_LIST_QUICKLIST: self._skip_string_list,
            fmt.TYPE_HASH_LISTPACK: self._skip_string,
            fmt.TYPE_ZSET_LISTPACK: self._skip_string,
            fmt.TYPE_LIST_QUICKLIST_2: self._skip_quicklist2,
            fmt.TYPE_SET_LISTPACK: self._skip_string,
            fmt.TYPE_HASH_METADATA_PRE_GA: self._skip_hash_metadata_pre_ga,
            fmt.TYPE_HASH_LISTPACK_EX_PRE_GA: self._skip_string,
            fmt.TYPE_HASH_METADATA: self._skip_hash_metadata,
            fmt.TYPE_HASH_LISTPACK_EX: self._skip_hash_listpack_ex,
        }
        self.valkey = index.magic == fmt.VALKEY_MAGIC
        if self.valkey:  # types from 22 on are Valkey's own
            for kind in range(fmt.VALKEY_TYPE_HASH_2, max(self.skippers) + 1):
                self.skippers.pop(kind, None)
            self.skippers[fmt.VALKEY_TYPE_HASH_2] = self._skip_valkey_hash_2

    def run(self) -> None:
        cursor, index = self.cursor, self.index
        db, expire_ms = 0, None
        while True:
            cursor.key = None
            offset = cursor.pos
            kind = cursor.byte("an opcode or value type")
            if kind == fmt.OP_EOF:
                index.eof_offset = offset
                return
            if kind in self.skippers or kind in fmt.STREAM_GENERATION:
                name = cursor.string("a key name")
                if (db, name) in self.seen:
                    cursor.fail(RdbCorruptError, f"key {name!r} appears twice in database {db}", offset)
                self.seen.add((db, name))
                key = KeyInfo(db, name, kind, offset, expire_ms, self.valkey)
                index.keys.append(key)
                cursor.key = name
                if kind in fmt.STREAM_GENERATION:
                    index.streams[(db, name)] = self._index_stream(key)
                else:
                    self.skippers[kind]()
                expire_ms = None
            elif kind == fmt.OP_AUX:
                name = cursor.string("an AUX field name")
                index.aux[name] = cursor.string("an AUX field value")
            elif kind == fmt.OP_SELECTDB:
                db = cursor.length("a database number")
            elif kind == fmt.OP_RESIZEDB:
                cursor.length("a RESIZEDB hint")
                cursor.length("a RESIZEDB hint")
            elif kind == fmt.OP_EXPIRETIME_MS:
                expire_ms = int.from_bytes(cursor.read(8, "an expire time"), "little", signed=True)
            elif kind == fmt.OP_EXPIRETIME:
                expire_ms = 1000 * int.from_bytes(cursor.read(4, "an expire time"), "little", signed=True)
            elif kind == fmt.OP_IDLE:
                cursor.length("an LRU idle time")
            elif kind == fmt.OP_FREQ:
                cursor.byte("an LFU frequency")
            elif kind == fmt.OP_SLOT_INFO:
                for _ in range(3):
                    cursor.length("a SLOT_INFO field")
            elif kind == fmt.OP_MODULE_AUX:
                module_id = cursor.length("a module id")
                when_opcode = cursor.length("a MODULE_AUX when-opcode")
                cursor.length("a MODULE_AUX when")
                if when_opcode != fmt.MODULE_OPCODE_UINT:
                    cursor.fail(
                        RdbCorruptError, f"MODULE_AUX has when-opcode {when_opcode}, expected 2", offset
                    )
                self._skip_module_value(module_id)
                index.module_aux += 1
            elif kind == fmt.OP_FUNCTION2:
                cursor.skip_string("a function library")
                index.functions += 1
            elif kind == fmt.OP_FUNCTION_PRE_GA:
                cursor.skip_string("a function name")
                cursor.skip_string("a function engine name")
                if cursor.length("a function has-description flag") == 1:
                    cursor.skip_string("a function description")
                cursor.skip_string("a function's code")
                index.functions += 1
            elif self.valkey:
                name = fmt.VALKEY_TYPE_NAMES.get(kind)
                what = (
                    f"Valkey's {name} value type ({kind})" if name else f"unknown opcode or value type {kind}"
                )
                cursor.fail(
                    RdbUnknownTypeError,
                    f"{what} in a Valkey format-{self.index.version} file is not supported by this reader (or "
                    "the file is corrupt)",
                    offset,
                    advice="Load the file with the valkey-server that wrote it and read it over a socket "
                    "(redis://...) instead.",
                )
            else:
                cursor.fail(
                    RdbUnknownTypeError,
                    f"unknown opcode or value type {kind} (written by a newer Redis, or the file is corrupt)",
                    offset,
                )

    # -- streams ------------------------------------------------------------------------------------
    def _index_stream(self, key: KeyInfo) -> StreamIndex:
        cursor = self.cursor
        generation = fmt.STREAM_GENERATION[key.rdb_type]
        node_count = cursor.length("the stream node count")
        first_node_offset = cursor.pos
        nodes, offsets, ms_list, seq_list = array("q"), array("q"), array("Q"), array("Q")
        stride = self.node_stride
        previous = (-1, -1)
        node = 0
        while node < node_count:
            for offset, ms, seq, _, _ in cursor.stream_nodes(node_count - node, with_data=False):
                if (ms, seq) <= previous:
                    cursor.fail(
                        RdbCorruptError,
                        f"stream node master id {ms}-{seq} is not after {previous[0]}-{previous[1]}",
                        offset,
                    )
                previous = (ms, seq)
                if node % stride == 0:
                    nodes.append(node)
                    offsets.append(offset)
                    ms_list.append(ms)
                    seq_list.append(seq)
                node += 1
        tail_offset = cursor.pos
        metadata = read_stream_tail(cursor, generation)
        if metadata.length and not node_count:
            cursor.fail(
                RdbCorruptError, f"stream length is {metadata.length} but it has no nodes", tail_offset
            )
        return StreamIndex(
            key=key,
            first_node_offset=first_node_offset,
            node_count=node_count,
            checkpoint_nodes=np.frombuffer(nodes, dtype=np.int64).copy(),
            checkpoint_offsets=np.frombuffer(offsets, dtype=np.int64).copy(),
            checkpoint_ms=np.frombuffer(ms_list, dtype=np.uint64).copy(),
            checkpoint_seq=np.frombuffer(seq_list, dtype=np.uint64).copy(),
            metadata=metadata,
        )

    # -- skipping other types -----------------------------------------------------------------------
    def _skip_string(self) -> None:
        self.cursor.skip_string("the value")

    def _skip_string_list(self) -> None:
        cursor = self.cursor
        for _ in range(cursor.length("an element count")):
            cursor.skip_string("an element")

    def _skip_hash(self) -> None:
        cursor = self.cursor
        for _ in range(cursor.length("a hash field count")):
            cursor.skip_string("a hash field")
            cursor.skip_string("a hash value")

    def _skip_zset(self) -> None:
        cursor = self.cursor
        for _ in range(cursor.length("a sorted set size")):
            cursor.skip_string("a sorted set member")
            score_length = cursor.byte("a sorted set score")
            if score_length < 253:  # 253, 254, 255 are NaN, +inf, -inf with no text
                cursor.skip(score_length, "a sorted set score")

    def _skip_zset2(self) -> None:
        cursor = self.cursor
        for _ in range(cursor.length("a sorted set size")):
            cursor.skip_string("a sorted set member")
            cursor.skip(8, "a binary sorted set score")

    def _skip_quicklist2(self) -> None:
        cursor = self.cursor
        for _ in range(cursor.length("a quicklist node count")):
            offset = cursor.pos
            container = cursor.length("a quicklist container type")
            if container not in (fmt.QUICKLIST_NODE_PLAIN, fmt.QUICKLIST_NODE_PACKED):
                cursor.fail(
                    RdbCorruptError, f"quicklist node container type {container} is not 1 or 2", offset
                )
            cursor.skip_string("a quicklist node")

    def _skip_hash_metadata_pre_ga(self) -> None:
        cursor = self.cursor
        for _ in range(cursor.length("a hash field count")):
            cursor.length("a hash field expiry")
            cursor.skip_string("a hash field")
            cursor.skip_string("a hash value")

    def _skip_hash_metadata(self) -> None:
        self.cursor.skip(8, "a hash's minimum field expiry")
        self._skip_hash_metadata_pre_ga()

    def _skip_hash_listpack_ex(self) -> None:
        self.cursor.skip(8, "a hash's minimum field expiry")
        self.cursor.skip_string("the value")

    def _skip_valkey_hash_2(self) -> None:
        cursor = self.cursor
        for _ in range(cursor.length("a hash field count")):
            cursor.skip_string("a hash field")
            cursor.skip_string("a hash value")
            cursor.skip(8, "a hash field expiry")

    def _module_pre_ga(self) -> None:
        offset = self.cursor.pos
        module_id = self.cursor.length("a module id")
        self.cursor.fail(
            RdbModuleError,
            f"a value of module {fmt.module_name(module_id)} in the pre-release module format cannot be "
            "skipped without that module",
            offset,
        )

    def _skip_module_value_with_id(self) -> None:
        self._skip_module_value(self.cursor.length("a module id"))

    def _skip_module_value(self, module_id: int) -> None:
        """Skip an annotated module value (opcode-tagged fields until the EOF opcode)."""
        cursor = self.cursor
        while True:
            offset = cursor.pos
            opcode = cursor.length("a module value opcode")
            if opcode == fmt.MODULE_OPCODE_EOF:
                return
            if opcode in (fmt.MODULE_OPCODE_SINT, fmt.MODULE_OPCODE_UINT):
                cursor.length("a module integer")
            elif opcode == fmt.MODULE_OPCODE_FLOAT:
                cursor.skip(4, "a module float")
            elif opcode == fmt.MODULE_OPCODE_DOUBLE:
                cursor.skip(8, "a module double")
            elif opcode == fmt.MODULE_OPCODE_STRING:
                cursor.skip_string("a module string")
            else:
                cursor.fail(
                    RdbModuleError,
                    f"a value of module {fmt.module_name(module_id)} has unknown annotation opcode {opcode}, "
                    "so it cannot be skipped without that module",
                    offset,
                )
