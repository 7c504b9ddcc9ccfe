"""Constants of the Redis RDB file format (opcodes, value types, encodings) and small helpers.

Numbers follow Redis' ``rdb.h``, ``listpack.c`` and ``t_stream.c``; the layout they describe is summarised
in the docstrings of the modules that read them.
"""

from __future__ import annotations

MAGIC = b"REDIS"
HEADER_SIZE = 9
#: Oldest and newest RDB format versions this reader understands (Redis 1.x .. 7.4/8.0).
MIN_VERSION = 1
MAX_VERSION = 12
#: The EOF opcode is followed by an 8-byte CRC-64 from this version on.
CHECKSUM_SINCE_VERSION = 5
CHECKSUM_SIZE = 8

# Opcodes: a byte where a value type is expected that introduces something other than a key.
OP_SLOT_INFO = 244
OP_FUNCTION2 = 245
OP_FUNCTION_PRE_GA = 246
OP_MODULE_AUX = 247
OP_IDLE = 248
OP_FREQ = 249
OP_AUX = 250
OP_RESIZEDB = 251
OP_EXPIRETIME_MS = 252
OP_EXPIRETIME = 253
OP_SELECTDB = 254
OP_EOF = 255

OPCODE_NAMES = {
    OP_SLOT_INFO: "SLOT_INFO",
    OP_FUNCTION2: "FUNCTION2",
    OP_FUNCTION_PRE_GA: "FUNCTION_PRE_GA",
    OP_MODULE_AUX: "MODULE_AUX",
    OP_IDLE: "IDLE",
    OP_FREQ: "FREQ",
    OP_AUX: "AUX",
    OP_RESIZEDB: "RESIZEDB",
    OP_EXPIRETIME_MS: "EXPIRETIME_MS",
    OP_EXPIRETIME: "EXPIRETIME",
    OP_SELECTDB: "SELECTDB",
    OP_EOF: "EOF",
}

# Value types (the byte before a key).
TYPE_STRING = 0
TYPE_LIST = 1
TYPE_SET = 2
TYPE_ZSET = 3
TYPE_HASH = 4
TYPE_ZSET_2 = 5
TYPE_MODULE_PRE_GA = 6
TYPE_MODULE_2 = 7
TYPE_HASH_ZIPMAP = 9
TYPE_LIST_ZIPLIST = 10
TYPE_SET_INTSET = 11
TYPE_ZSET_ZIPLIST = 12
TYPE_HASH_ZIPLIST = 13
TYPE_LIST_QUICKLIST = 14
TYPE_STREAM_LISTPACKS = 15
TYPE_HASH_LISTPACK = 16
TYPE_ZSET_LISTPACK = 17
TYPE_LIST_QUICKLIST_2 = 18
TYPE_STREAM_LISTPACKS_2 = 19
TYPE_SET_LISTPACK = 20
TYPE_STREAM_LISTPACKS_3 = 21
TYPE_HASH_METADATA_PRE_GA = 22
TYPE_HASH_LISTPACK_EX_PRE_GA = 23
TYPE_HASH_METADATA = 24
TYPE_HASH_LISTPACK_EX = 25

#: RDB value type -> (Redis data type as TYPE reports it, encoding name).
TYPE_INFO: dict[int, tuple[str, str]] = {
    TYPE_STRING: ("string", "string"),
    TYPE_LIST: ("list", "linkedlist"),
    TYPE_SET: ("set", "hashtable"),
    TYPE_ZSET: ("zset", "skiplist"),
    TYPE_HASH: ("hash", "hashtable"),
    TYPE_ZSET_2: ("zset", "skiplist (binary scores)"),
    TYPE_MODULE_PRE_GA: ("module", "module (pre-GA)"),
    TYPE_MODULE_2: ("module", "module2"),
    TYPE_HASH_ZIPMAP: ("hash", "zipmap"),
    TYPE_LIST_ZIPLIST: ("list", "ziplist"),
    TYPE_SET_INTSET: ("set", "intset"),
    TYPE_ZSET_ZIPLIST: ("zset", "ziplist"),
    TYPE_HASH_ZIPLIST: ("hash", "ziplist"),
    TYPE_LIST_QUICKLIST: ("list", "quicklist"),
    TYPE_STREAM_LISTPACKS: ("stream", "listpacks"),
    TYPE_HASH_LISTPACK: ("hash", "listpack"),
    TYPE_ZSET_LISTPACK: ("zset", "listpack"),
    TYPE_LIST_QUICKLIST_2: ("list", "quicklist2"),
    TYPE_STREAM_LISTPACKS_2: ("stream", "listpacks2"),
    TYPE_SET_LISTPACK: ("set", "listpack"),
    TYPE_STREAM_LISTPACKS_3: ("stream", "listpacks3"),
    TYPE_HASH_METADATA_PRE_GA: ("hash", "hash_metadata (pre-GA)"),
    TYPE_HASH_LISTPACK_EX_PRE_GA: ("hash", "listpack_ex (pre-GA)"),
    TYPE_HASH_METADATA: ("hash", "hash_metadata"),
    TYPE_HASH_LISTPACK_EX: ("hash", "listpack_ex"),
}

#: Stream value types -> format generation (2 adds first id, max deleted id, entries added and the
#: consumer groups' entries-read; 3 adds each consumer's active time).
STREAM_GENERATION = {TYPE_STREAM_LISTPACKS: 1, TYPE_STREAM_LISTPACKS_2: 2, TYPE_STREAM_LISTPACKS_3: 3}

# Length encoding: the two top bits of the first byte.
LEN_6BIT = 0
LEN_14BIT = 1
LEN_32BIT = 0x80
LEN_64BIT = 0x81
LEN_ENCVAL = 3
# Special string encodings (first byte 11xxxxxx, low six bits).
ENC_INT8 = 0
ENC_INT16 = 1
ENC_INT32 = 2
ENC_LZF = 3

# Sub-opcodes of annotated module values (RDB_TYPE_MODULE_2 and MODULE_AUX).
MODULE_OPCODE_EOF = 0
MODULE_OPCODE_SINT = 1
MODULE_OPCODE_UINT = 2
MODULE_OPCODE_FLOAT = 3
MODULE_OPCODE_DOUBLE = 4
MODULE_OPCODE_STRING = 5
_MODULE_CHARSET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

# Quicklist 2 node containers.
QUICKLIST_NODE_PLAIN = 1
QUICKLIST_NODE_PACKED = 2

# Stream listpack entry flags.
STREAM_FLAG_DELETED = 1
STREAM_FLAG_SAMEFIELDS = 2

#: A listpack's header: 32-bit total bytes and 16-bit element count (65535: unknown).
LISTPACK_HEADER_SIZE = 6
LISTPACK_EOF = 0xFF
LISTPACK_UNKNOWN_COUNT = 65535

#: LZF cannot expand by more than this factor (a 3-byte back reference copies at most 264 bytes).
LZF_MAX_RATIO = 89


def module_name(module_id: int) -> str:
    """Unpack the 9-character module type name and encoding version of a 64-bit module id.

    Examples
    --------
    >>> module_name((5 << 10) | 3)
    'AAAAAAAAF (encoding version 3, module id 0x1403)'
    """
    chars = []
    value = module_id >> 10
    for _ in range(9):
        chars.append(_MODULE_CHARSET[value & 63])
        value >>= 6
    return f"{''.join(reversed(chars))} (encoding version {module_id & 1023}, module id 0x{module_id:x})"


def type_description(rdb_type: int) -> str:
    """``"hash (listpack)"`` for a known RDB value type, ``"unknown type 99"`` otherwise."""
    info = TYPE_INFO.get(rdb_type)
    return f"{info[0]} ({info[1]})" if info else f"unknown type {rdb_type}"
