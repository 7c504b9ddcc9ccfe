"""How long a live Redis connection may take (defaults of every function that connects)."""

#: Connect quickly or fail: an unreachable server should be reported in seconds, not minutes.
DEFAULT_CONNECT_TIMEOUT = 5.0
#: Reads of large batches from a busy rig can take a while; redis-py's 5 s default is too tight.
DEFAULT_READ_TIMEOUT = 120.0
