"""Deterministic neural payloads: threshold crossings, spike-band power, raw broadband, bins.

Every quantity is generated in blocks of :data:`BLOCK_TICKS` NSP ticks from a random generator seeded with
``(seed, kind, block)``, so any window can be regenerated on demand: the writer streams the session window
by window and the ground truth recomputes the same bytes later without holding the whole session.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

BLOCK_TICKS = 1000
#: Negative-going spike shape (0.25 uV units) added to the raw signal at every crossing.
SPIKE_WAVEFORM = np.array([-40, -180, -250, -120, 30, 60], dtype=np.int16)
_SEED_TAGS = {"crossings": 22, "sbp": 23, "raw": 24}
_CACHE_BLOCKS = {"crossings": 8, "sbp": 8, "raw": 2}


class NeuralSignals:
    """Per-tick neural data of all channels, generated block by block.

    Parameters
    ----------
    seed : int
        Session seed.
    n_channels : int
        Total channels (all arrays).
    samples_per_entry : int
        30 kHz samples per tick in the raw signal.
    """

    def __init__(self, seed: int, n_channels: int, samples_per_entry: int):
        self.seed = seed
        self.n_channels = n_channels
        self.samples_per_entry = samples_per_entry
        rng = np.random.default_rng([seed, 21])
        self.spike_probability = rng.uniform(0.004, 0.04, n_channels).astype(np.float32)
        self.sbp_baseline = rng.uniform(40.0, 400.0, n_channels).astype(np.float32)
        self._cache: OrderedDict[tuple[str, int], np.ndarray] = OrderedDict()

    # ------------------------------------------------------------------------------------- public
    def crossings(self, ticks: np.ndarray) -> np.ndarray:
        """Threshold crossings (0/1), int16, shape ``(len(ticks), n_channels)``."""
        return self._gather("crossings", ticks)

    def sbp(self, ticks: np.ndarray) -> np.ndarray:
        """Spike-band power, float32, shape ``(len(ticks), n_channels)``."""
        return self._gather("sbp", ticks)

    def raw_channel_major(self, ticks: np.ndarray) -> np.ndarray:
        """Raw broadband int16, shape ``(len(ticks), n_channels, samples_per_entry)`` (C-order chan, samp)."""
        return self._gather("raw", ticks)

    def binned(self, bin_ticks: np.ndarray, with_sbp: bool) -> np.ndarray:
        """bin_multiple's output for bins of ticks ``(n_bins, bin_size)``: float32 ``(n_bins, n_features)``.

        Crossing counts per channel, followed by the mean spike-band power when ``with_sbp``.
        """
        n_bins, bin_size = bin_ticks.shape
        flat = bin_ticks.reshape(-1)
        counts = self.crossings(flat).reshape(n_bins, bin_size, self.n_channels).sum(axis=1, dtype=np.float32)
        if not with_sbp:
            return counts
        power = self.sbp(flat).reshape(n_bins, bin_size, self.n_channels).mean(axis=1, dtype=np.float32)
        return np.concatenate([counts, power], axis=1)

    # ------------------------------------------------------------------------------------ blocks
    def _gather(self, kind: str, ticks: np.ndarray) -> np.ndarray:
        ticks = np.asarray(ticks, dtype=np.int64)
        if len(ticks) > 1 and np.any(np.diff(ticks) < 0):
            raise ValueError("ticks must be sorted")
        blocks = ticks // BLOCK_TICKS
        first = self._block(kind, int(blocks[0])) if len(ticks) else self._block(kind, 0)
        out = np.empty((len(ticks), *first.shape[1:]), dtype=first.dtype)
        unique, starts = np.unique(blocks, return_index=True)
        stops = np.append(starts[1:], len(ticks))
        for block, start, stop in zip(unique.tolist(), starts.tolist(), stops.tolist(), strict=True):
            data = self._block(kind, block)
            out[start:stop] = data[ticks[start:stop] - block * BLOCK_TICKS]
        return out

    def _block(self, kind: str, block: int) -> np.ndarray:
        key = (kind, block)
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        data = getattr(self, f"_make_{kind}")(
            block, np.random.default_rng([self.seed, _SEED_TAGS[kind], block])
        )
        data.flags.writeable = False
        self._cache[key] = data
        same_kind = [k for k in self._cache if k[0] == kind]
        for old in same_kind[: max(0, len(same_kind) - _CACHE_BLOCKS[kind])]:
            del self._cache[old]
        return data

    def _make_crossings(self, block: int, rng: np.random.Generator) -> np.ndarray:
        draws = rng.random((BLOCK_TICKS, self.n_channels), dtype=np.float32)
        return (draws < self.spike_probability).astype(np.int16)

    def _make_sbp(self, block: int, rng: np.random.Generator) -> np.ndarray:
        spread = np.float32(0.75) + np.float32(0.5) * rng.random(
            (BLOCK_TICKS, self.n_channels), dtype=np.float32
        )
        power = self.sbp_baseline * spread
        power += np.float32(60.0) * self._block("crossings", block)
        return power.astype(np.float32)

    def _make_raw(self, block: int, rng: np.random.Generator) -> np.ndarray:
        shape = (BLOCK_TICKS, self.n_channels, self.samples_per_entry)
        raw = np.frombuffer(rng.bytes(int(np.prod(shape))), dtype=np.int8).astype(np.int16).reshape(shape)
        waveform = SPIKE_WAVEFORM[: self.samples_per_entry]
        offset = max(0, min(8, self.samples_per_entry - len(waveform)))
        entry, channel = np.nonzero(self._block("crossings", block))
        columns = offset + np.arange(len(waveform))
        raw[entry[:, None], channel[:, None], columns[None, :]] += waveform
        return raw
