"""Synthetic BRAND sessions with exact ground truth, for tests, demos and benchmarks.

Write a realistic session (supergraph of any era, node/participant/devices YAMLs, NSP, feature, task,
parameter and supervisor streams, optional hazards) into a real Redis, or into a ``.rdb`` file::

    from neuroconv_brand.testing import SessionConfig, generate_session, save_session_rdb

    truth = generate_session(client, SessionConfig(duration_s=5.0, era="2025", hazards=True), folder)
    truth.streams["thresh_cross"].ids          # (n, 2) uint64 entry ids
    truth = save_session_rdb(SessionConfig(raw=True), "session.rdb", folder)

Time model: the NSP ticks once per millisecond from ``start_time_ms``; every write has a simulated time
from which its entry id (``<ms>-<seq>``, seq counting writes in the same ms) and its ``ts``
(``monotonic_offset_ns`` + the same offset) derive, so ids are ground truth. Sync labels count the
tracking id (1 kHz) or the NSP sample clock (30 kHz). Payloads are regenerated block by block from the seed,
so ``StreamTruth.fields``/``field_slice`` can reproduce any window of a long session without storing it.
Module map: :mod:`.config` (options), :mod:`.timeline` (clocks), :mod:`.neural` (payloads), :mod:`.task`
(radialFSM), :mod:`.definitions`/:mod:`.supergraph`/:mod:`.yaml_files` (graph, eras, files),
:mod:`.nsp_streams`/:mod:`.task_streams`/:mod:`.infra_streams` (streams), :mod:`.resp`/:mod:`.writer`
(bulk XADD), :mod:`.truth` (ground truth types).
"""

from .config import ERAS, HAZARD_OPTIONS, SessionConfig
from .errors import SessionConfigError, SessionTargetError, SessionWriteError
from .expected import expected_sync_times, redis_times
from .session import BRAND_REDIS_CONFIG, generate_session, save_session_rdb
from .task import pair_trial_states
from .truth import (
    ElectrodeTruth,
    FieldLayout,
    HazardTruth,
    StreamTruth,
    SyntheticSession,
    TrialTruth,
)

__all__ = [
    "BRAND_REDIS_CONFIG",
    "ERAS",
    "HAZARD_OPTIONS",
    "ElectrodeTruth",
    "FieldLayout",
    "HazardTruth",
    "SessionConfig",
    "SessionConfigError",
    "SessionTargetError",
    "SessionWriteError",
    "StreamTruth",
    "SyntheticSession",
    "TrialTruth",
    "expected_sync_times",
    "generate_session",
    "pair_trial_states",
    "redis_times",
    "save_session_rdb",
]
