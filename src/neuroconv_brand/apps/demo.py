"""The embedded example: generate a synthetic BRAND session, save it as a ``.rdb`` file, convert it to NWB."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

from ..converter import BrandConverter
from ..testing import SessionConfig, save_session_rdb


@dataclass(frozen=True)
class DemoResult:
    """Where the demo wrote its files and what it converted."""

    rdb_path: Path
    nwbfile_path: Path
    participant_file: Path
    devices_file: Path
    streams: list[str]


def run_demo(
    output_folder: str | Path = "neuroconv-brand-demo", duration_s: float = 10.0, seed: int = 0
) -> DemoResult:
    """Generate a BRAND session (2 x 64 channels, cursor task, 2025 graph) and convert it to NWB.

    Parameters
    ----------
    output_folder : path
        Receives ``demo.rdb``, the participant/devices YAML files and ``demo.nwb`` (replaced if present).
    duration_s : float
        Length of the synthetic session in seconds.
    seed : int
        Random seed of the generator (same seed, same session).
    """
    folder = Path(output_folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    rdb_path = folder / "demo.rdb"
    if rdb_path.exists():
        rdb_path.unlink()
    truth = save_session_rdb(SessionConfig(duration_s=duration_s, seed=seed), rdb_path, folder)
    nwbfile_path = folder / "demo.nwb"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # NeuroConv's once-per-process metadata notice
        converter = BrandConverter(
            file_path=rdb_path, participant_file=truth.participant_file, devices_file=truth.devices_file
        )
        metadata = converter.get_metadata()
        metadata["Subject"] = dict(
            subject_id=truth.config.participant_id, species="Homo sapiens", sex="U", age="P40Y"
        )
        converter.run_conversion(nwbfile_path=nwbfile_path, metadata=metadata, overwrite=True)
    return DemoResult(
        rdb_path=rdb_path,
        nwbfile_path=nwbfile_path,
        participant_file=Path(truth.participant_file),
        devices_file=Path(truth.devices_file),
        streams=list(converter.data_interface_objects),
    )
