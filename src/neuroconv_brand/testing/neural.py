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
#: Raw signal models: uniform white int8 noise, or broadband noise with a real NSP's statistics.
RAW_SIGNALS = ("white", "broadband")
#: Counts per uV of a Blackrock NSP's raw 30 kHz channels (0.25 uV per count).
COUNTS_PER_UV = 4.0
#: Broadband model (uV rms per channel, drawn uniformly from these ranges): 1/f local field potential, a
#: part of it common to all channels, and a flat noise floor; nothing above the NSP's 7.5 kHz low-pass.
LFP_UV = (15.0, 40.0)
LFP_COMMON_FRACTION = 0.7
LFP_KNEE_HZ = 2.0
NOISE_UV = (5.0, 10.0)
LOWPASS_HZ = 7500.0
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
    raw_signal : {"white", "broadband"}
        "white": uniform int8 noise plus the spikes (fast to make, incompressible by LZF, but without any
        temporal structure). "broadband": Gaussian noise with the spectrum and amplitudes of a real NSP's raw
        channels plus the spikes (see :data:`LFP_UV`, :data:`NOISE_UV`); each 1 s block is synthesized in
        the frequency domain on its own, so the signal jumps at block edges.
    """

    def __init__(self, seed: int, n_channels: int, samples_per_entry: int, raw_signal: str = "white"):
        if raw_signal not in RAW_SIGNALS:
            raise ValueError(f"raw_signal={raw_signal!r}: choose one of {RAW_SIGNALS}")
        self.seed = seed
        self.n_channels = n_channels
        self.samples_per_entry = samples_per_entry
        self.raw_signal = raw_signal
        rng = np.random.default_rng([seed, 21])
        self.spike_probability = rng.uniform(0.004, 0.04, n_channels).astype(np.float32)
        self.sbp_baseline = rng.uniform(40.0, 400.0, n_channels).astype(np.float32)
        self.lfp_counts = (rng.uniform(*LFP_UV, n_channels) * COUNTS_PER_UV).astype(np.float32)
        self.noise_counts = (rng.uniform(*NOISE_UV, n_channels) * COUNTS_PER_UV).astype(np.float32)
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
        if self.raw_signal == "broadband":
            raw = self._broadband(rng)
        else:
            raw = np.frombuffer(rng.bytes(int(np.prod(shape))), dtype=np.int8).astype(np.int16).reshape(shape)
        waveform = SPIKE_WAVEFORM[: self.samples_per_entry]
        offset = max(0, min(8, self.samples_per_entry - len(waveform)))
        entry, channel = np.nonzero(self._block("crossings", block))
        columns = offset + np.arange(len(waveform))
        raw[entry[:, None], channel[:, None], columns[None, :]] += waveform
        return raw

    def _broadband(self, rng: np.random.Generator) -> np.ndarray:
        """One block of Gaussian broadband signal, int16 ``(BLOCK_TICKS, n_channels, samples_per_entry)``."""
        n_samples = BLOCK_TICKS * self.samples_per_entry
        frequencies = np.fft.rfftfreq(n_samples, 1.0 / (1000.0 * self.samples_per_entry))
        passband = (frequencies > 0) & (frequencies <= LOWPASS_HZ)
        lfp_shape = _unit_variance(passband / np.maximum(frequencies, LFP_KNEE_HZ), n_samples)
        noise_shape = _unit_variance(passband.astype(np.float64), n_samples)
        common = _complex_normal(rng, (1, len(frequencies)))
        own_lfp = _complex_normal(rng, (self.n_channels, len(frequencies)))
        lfp = np.sqrt(LFP_COMMON_FRACTION) * common + np.sqrt(1.0 - LFP_COMMON_FRACTION) * own_lfp
        spectrum = lfp * (lfp_shape * self.lfp_counts[:, None])
        del own_lfp, lfp
        spectrum += _complex_normal(rng, spectrum.shape) * (noise_shape * self.noise_counts[:, None])
        signal = np.fft.irfft(spectrum, n=n_samples, axis=1)
        raw = np.clip(np.rint(signal), -32768, 32767).astype(np.int16)
        return np.ascontiguousarray(
            raw.reshape(self.n_channels, BLOCK_TICKS, self.samples_per_entry).transpose(1, 0, 2)
        )


def _unit_variance(shape: np.ndarray, n_samples: int) -> np.ndarray:
    """Scale an amplitude spectrum so that ``irfft`` of it times unit complex noise has variance 1."""
    return (shape * (n_samples / np.sqrt(2.0 * np.sum(shape**2)))).astype(np.float32)


def _complex_normal(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Complex Gaussian noise with ``E|z|^2 = 1``, complex64."""
    parts = rng.standard_normal((*shape, 2), dtype=np.float32) * np.float32(np.sqrt(0.5))
    return parts.view(np.complex64)[..., 0]
