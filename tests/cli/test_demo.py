"""The README quick start's main job: `neuroconv-brand demo`, run as the real console script."""

import subprocess

import numpy as np
from pynwb import read_nwb

from neuroconv_brand.testing import SessionConfig


def run(*args, cwd):
    return subprocess.run(["neuroconv-brand", *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def test_demo_generates_converts_and_says_where(tmp_path):
    result = run("demo", "--duration", "4", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    nwb_line = next(line for line in result.stdout.splitlines() if line.startswith("NWB file:"))
    nwbfile_path = tmp_path / "neuroconv-brand-demo" / "demo.nwb"
    assert nwb_line.split(":", 1)[1].strip() == str(nwbfile_path)
    assert (tmp_path / "neuroconv-brand-demo" / "demo.rdb").read_bytes()[:9] == b"REDIS0009"

    nwbfile = read_nwb(nwbfile_path)
    config = SessionConfig(duration_s=4.0, seed=0)
    channels = config.n_arrays * config.channels_per_array
    sbp = nwbfile.acquisition["sbp_samples"]
    assert sbp.data.shape == (4000, channels) and sbp.rate == 1000.0
    assert np.isfinite(sbp.data[:100]).all()
    assert nwbfile.subject.subject_id == config.participant_id
    assert len(nwbfile.trials) > 0


def test_demo_rejects_a_too_short_session(tmp_path):
    result = run("demo", "--duration", "1", cwd=tmp_path)
    assert result.returncode == 2
    assert "--duration must be at least 3 seconds" in result.stderr
    assert not (tmp_path / "neuroconv-brand-demo").exists()
