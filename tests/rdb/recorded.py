"""The recorded fixtures (tests/data/rdb): .rdb files and what their redis-servers answered."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path

RDB_DATA = Path(__file__).parent.parent / "data" / "rdb"
RECORDED = ["brand_v9", "brand_v10", "brand_v12"]
#: Sessions of the package's generator recorded from real servers (every stream compared, nothing else).
RECORDED_SESSIONS = ["brand_session_v12"]


@dataclass
class Recorded:
    """A recorded fixture: the .rdb path and the server's answers (see tests/data/rdb/make_fixtures.py)."""

    name: str
    path: Path
    answers: dict

    @property
    def rdb_version(self) -> int:
        return self.answers["rdb_version"]

    def streams(self, db: int = 0) -> dict[str, dict]:
        return self.answers["databases"][str(db)]["streams"]

    def keys(self, db: int = 0) -> dict[str, dict]:
        return self.answers["databases"][str(db)]["keys"]

    def entries(self, stream: str, db: int = 0) -> list[tuple[bytes, dict[bytes, bytes]]]:
        """What XRANGE returned, as redis-py returns it."""
        decode = base64.b64decode
        return [
            (entry_id.encode(), {decode(f): decode(v) for f, v in fields})
            for entry_id, fields in self.streams(db)[stream]["entries"]
        ]


def load_recorded(name: str) -> Recorded:
    path = RDB_DATA / f"{name}.rdb"
    return Recorded(name, path, json.loads((RDB_DATA / f"{name}.json").read_text()))
