"""A Redis still being written is converted as one snapshot: every stream cut at the same instant."""

from __future__ import annotations

import re
import subprocess
import threading
import time

import numpy as np
from pynwb import read_nwb

from neuroconv_brand.sources.entry_ids import EntryId
from neuroconv_brand.testing import SessionConfig, generate_session

#: Streams the writer keeps adding to while the conversion runs.
WRITTEN = ("sbp", "cursorData", "thresh_cross")


class Writer(threading.Thread):
    """XADDs (server-made ids) a copy of each stream's last entry to every stream of :data:`WRITTEN`, nonstop."""

    def __init__(self, client):
        super().__init__(daemon=True)
        self.client = client
        self.templates = {name: client.xrevrange(name, count=1)[0][1] for name in WRITTEN}
        self.added = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            for name, fields in self.templates.items():
                self.client.xadd(name, fields)
            self.added += 1
            time.sleep(0.001)


def test_a_live_redis_is_cut_at_one_instant(redis_server, redis_client, tmp_path):
    # The synthetic session ends 2 s ago; the writer then goes on as a running rig would.
    start_ms = int(time.time() * 1000) - 6000
    generate_session(
        redis_client, SessionConfig(duration_s=4.0, seed=5, start_time_ms=start_ms), tmp_path / "files"
    )
    writer = Writer(redis_server.client())
    writer.start()
    try:
        while writer.added < 50:
            time.sleep(0.01)
        output = tmp_path / "live.nwb"
        result = subprocess.run(
            ["neuroconv-brand", "convert", redis_server.socket_path, "-o", str(output), "--clock", "redis"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        added_by_the_end = writer.added
    finally:
        writer.stop.set()
        writer.join()
    assert result.returncode == 0, result.stderr
    stated = re.search(
        r"^Every BRAND stream read up to Redis entry id (\d+-\d+) \(([^)]+)\) from (.+)\.$",
        result.stdout,
        re.M,
    )
    assert stated is not None, result.stdout
    cut = EntryId.parse(stated.group(1))
    assert stated.group(3) == f"unix socket {redis_server.socket_path}"
    assert added_by_the_end > 50

    nwbfile = read_nwb(output)
    assert stated.group(0) in nwbfile.notes
    tables = nwbfile.processing["brand_timestamps"]
    for name in WRITTEN:
        before = redis_client.xrange(name, "-", str(cut))
        after = redis_client.xrange(name, str(cut.successor()), "+")
        assert len(after) > 0, f"{name}: nothing was written after the cut, so the test proves nothing"
        table = tables[f"{name}_ts"]
        assert len(table) == len(before)  # every entry up to the cut, none after it
        last_ms = np.round(table["redis_time"][-1] * 1000 + nwbfile_start_ms(nwbfile))
        assert last_ms == EntryId.parse(before[-1][0]).ms <= cut.ms
    samples = nwbfile.acquisition["sbp_samples"].data
    assert samples.shape[0] == len(redis_client.xrange("sbp", "-", str(cut)))
    last = np.frombuffer(redis_client.xrange("sbp", "-", str(cut))[-1][1][b"samples"], dtype=np.float32)
    np.testing.assert_array_equal(samples[-1], last)


def nwbfile_start_ms(nwbfile) -> float:
    return nwbfile.session_start_time.timestamp() * 1000
