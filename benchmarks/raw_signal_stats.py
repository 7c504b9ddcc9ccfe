"""Statistics of the generator's raw signals: amplitude, correlations, entropy, LZF and gzip ratios.

    python benchmarks/raw_signal_stats.py [--seconds 2] [--channels 256]

For each ``raw_signal`` of :class:`neuroconv_brand.testing.neural.NeuralSignals` ("white", "broadband") it
generates ``--seconds`` of 30 kHz samples and prints: rms in uV (0.25 uV per count; whole array and the per-channel
range), the correlation of neighbouring samples (channel 0) and of neighbouring channels (median), the entropy of
the sample values and of their first differences (bits per sample), the LZF ratio of each entry's 15 kB of
samples (what Redis does to a raw listpack node when it saves) and the gzip 4 ratio of the samples in time-major
order (as the HDF5 chunks hold them).
"""

from __future__ import annotations

import argparse
import zlib

import lzf
import numpy as np

from neuroconv_brand.testing.neural import BLOCK_TICKS, COUNTS_PER_UV, RAW_SIGNALS, NeuralSignals


def entropy_bits(values: np.ndarray) -> float:
    """Shannon entropy of the distinct values, bits per value."""
    _, counts = np.unique(values, return_counts=True)
    probabilities = counts / counts.sum()
    return float(-(probabilities * np.log2(probabilities)).sum())


def signal_stats(kind: str, seconds: int, channels: int) -> dict[str, float]:
    """The statistics of ``seconds`` of ``kind`` on ``channels`` channels."""
    signals = NeuralSignals(seed=0, n_channels=channels, samples_per_entry=30, raw_signal=kind)
    entries = signals.raw_channel_major(np.arange(seconds * BLOCK_TICKS))
    series = entries.transpose(0, 2, 1).reshape(-1, channels)
    rms = series.std(axis=0) / COUNTS_PER_UV
    first = series[:, 0].astype(np.float64)
    across = np.corrcoef(series[:, : min(channels, 32)].T.astype(np.float64))
    entry_bytes = [entry.tobytes() for entry in entries[:: max(1, len(entries) // 200)]]
    lzf_sizes = [len(lzf.compress(data) or data) for data in entry_bytes]
    samples = series.tobytes()
    return {
        "rms uV": float(series.std()) / COUNTS_PER_UV,
        "rms min": float(rms.min()),
        "rms max": float(rms.max()),
        "corr t": float(np.corrcoef(first[:-1], first[1:])[0, 1]),
        "corr ch": float(np.median(np.diagonal(across, 1))),
        "H bits": entropy_bits(series),
        "H diff": entropy_bits(np.diff(series[:, 0].astype(np.int32))),
        "LZF": sum(map(len, entry_bytes)) / sum(lzf_sizes),
        "gzip 4": len(samples) / len(zlib.compress(samples, 4)),
    }


def main() -> None:
    """Print one line per signal kind."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=2)
    parser.add_argument("--channels", type=int, default=256)
    args = parser.parse_args()
    rows = {kind: signal_stats(kind, args.seconds, args.channels) for kind in RAW_SIGNALS}
    columns = list(next(iter(rows.values())))
    print(f"{'signal':10} " + " ".join(f"{name:>8}" for name in columns))
    for kind, row in rows.items():
        print(f"{kind:10} " + " ".join(f"{row[name]:>8.2f}" for name in columns))


if __name__ == "__main__":
    main()
