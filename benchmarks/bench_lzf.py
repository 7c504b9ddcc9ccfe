"""LZF decompression speed on raw broadband stream nodes: is a faster LZF decoder worth having?

Redis stores a stream node (a listpack) LZF-compressed in a ``.rdb`` when ``rdbcompression yes`` (BRAND's
setting) and the node compresses. A raw broadband entry (256 channels x 30 samples of int16, 15 kB) is larger
than ``stream-node-max-bytes 4096``, so every node holds one entry. This builds such nodes from noise-like
samples (Gaussian noise plus a slow oscillation, as an NSP's broadband looks), compresses each with the ``lzf``
module (``python-neo-lzf``; the same liblzf Redis bundles) and times ``lzf.decompress`` against copying the
same bytes, per process.

    python benchmarks/bench_lzf.py --megabytes 200
"""

from __future__ import annotations

import argparse
import time

import lzf
import numpy as np

CHANNELS, SAMPLES = 256, 30


def noise_like_nodes(megabytes: float, noise_std: float, seed: int = 0) -> list[bytes]:
    """One uncompressed node payload per entry: int16 samples (channel-major) and uint64 NSP timestamps."""
    rng = np.random.default_rng(seed)
    entry_bytes = CHANNELS * SAMPLES * 2
    count = int(megabytes * 1e6 / entry_bytes)
    phase = rng.uniform(0, 2 * np.pi, CHANNELS)[:, None]
    nodes = []
    for index in range(count):
        t = (index * SAMPLES + np.arange(SAMPLES)) / 30_000
        slow = 200 * np.sin(2 * np.pi * 8 * t[None, :] + phase)
        samples = (slow + rng.normal(0, noise_std, (CHANNELS, SAMPLES))).astype(np.int16)
        stamps = (index * SAMPLES + np.arange(SAMPLES, dtype=np.uint64)) * np.uint64(1)
        nodes.append(samples.tobytes() + stamps.tobytes())
    return nodes


def best_of(repeat: int, work) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--megabytes", type=float, default=200.0, help="uncompressed node bytes per run")
    parser.add_argument(
        "--noise-std", type=float, nargs="+", default=[20.0, 60.0], help="noise, int16 counts"
    )
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"{'noise':>6} {'nodes':>6} {'ratio':>6} {'lzf MB/s':>9} {'copy MB/s':>10} {'s per GB':>9}")
    for noise_std in args.noise_std:
        nodes = noise_like_nodes(args.megabytes, noise_std)
        packed = [(lzf.compress(node), len(node)) for node in nodes]
        packed = [(data, size) for data, size in packed if data is not None]  # Redis stores those raw
        total = sum(size for _, size in packed)
        stored = sum(len(data) for data, _ in packed)
        seconds = best_of(
            args.repeat, lambda packed=packed: [lzf.decompress(data, size) for data, size in packed]
        )
        copy = best_of(args.repeat, lambda packed=packed: [bytearray(data) for data, _ in packed])
        print(
            f"{noise_std:>6g} {len(packed):>6} {total / stored:>6.2f} {total / 1e6 / seconds:>9.0f} "
            f"{stored / 1e6 / copy:>10.0f} {seconds / total * 1e9:>9.2f}"
        )


if __name__ == "__main__":
    main()
