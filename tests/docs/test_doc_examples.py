"""Every code example of the documentation runs as written.

Each page of ``docs/`` runs in its own scratch folder, its blocks in document order:

- a ```` ```python ```` block is executed (one namespace per page, ``__name__ == "__main__"``);
- a ```` ```bash ```` block whose commands start with ``neuroconv-brand`` is run through the installed console
  script, in a subprocess without a shell (one command per line, a trailing backslash continues it; no pipes
  or globs); the commands must exit with 0, or with ``N`` given by ``<!-- exit-code: N -->``;
- a block in any other language preceded by ``<!-- example: PATH -->`` is an input file the page shows: it is
  written to ``PATH`` (e.g. a YAML specification) before the blocks that follow run;
- ``<!-- not-executed: REASON -->`` directly above a block skips it (the reason is required), and
  ``<!-- requires: MODULE -->`` runs it only where ``MODULE`` is installed.

The scratch folder holds the user's files the pages name (``t1_240101T1200_graph.rdb``, ``config/t1/t1.yaml``,
``config/devices.yaml``, ``subject.yaml``, ``session.rdb`` and a ``data/`` folder of two sessions), made by the
package's synthetic session generator. Pages in :data:`LIVE_RIG_PAGES` also get ``redis.sock``, the unix socket
of a running redis-server that holds a BRAND session, as a rig's Redis does during a block.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from neuroconv_brand.sources.redis_server import EmbeddedRedisServer
from neuroconv_brand.testing import BRAND_REDIS_CONFIG, SessionConfig, generate_session, save_session_rdb

REPOSITORY = Path(__file__).resolve().parents[2]
DOCS = REPOSITORY / "docs"
BUILD = DOCS / "_build"
#: Pages whose examples talk to a running BRAND Redis through ``redis.sock`` in the scratch folder.
LIVE_RIG_PAGES = {"replace-exportnwb.md"}
#: Markers that may precede a code block.
KNOWN_MARKERS = {"example", "output", "not-executed", "requires", "exit-code", "wrapper"}
CONSOLE_SCRIPT = Path(sys.executable).parent / "neuroconv-brand"
SUBJECT_YAML = "Subject:\n  species: Homo sapiens\n  sex: M\n  age: P45Y\n"

_FENCE = re.compile(r"^(?P<fence>`{3,})(?P<info>[^`\s]*)[^`]*$")
_MARKER = re.compile(r"^<!--\s*(?P<name>[a-z][a-z-]*)(?::\s*(?P<value>.*?))?\s*-->\s*$")


@dataclass
class Block:
    """A fenced code block of a page, with the ``<!-- name: value -->`` markers directly above it."""

    page: str
    line: int
    language: str
    code: str
    markers: dict[str, str] = field(default_factory=dict)

    @property
    def where(self) -> str:
        return f"docs/{self.page}, line {self.line}"

    def commands(self) -> list[str]:
        """The shell commands of a bash block: continuation lines joined, comments and blank lines dropped."""
        joined = re.sub(r"\s*\\\n\s*", " ", self.code)
        return [
            line.strip() for line in joined.splitlines() if line.strip() and not line.strip().startswith("#")
        ]

    @property
    def runs_the_cli(self) -> bool:
        return self.language == "bash" and any(cmd.startswith("neuroconv-brand") for cmd in self.commands())

    @property
    def executable(self) -> bool:
        return self.language == "python" or self.runs_the_cli

    @property
    def input_file(self) -> str | None:
        """The path a non-executable block is written to (``<!-- example: PATH -->``), if any."""
        if self.executable or self.language.startswith("{"):
            return None
        return self.markers.get("example")


def pages() -> list[Path]:
    return sorted(path for path in DOCS.rglob("*.md") if BUILD not in path.parents)


def page_name(path: Path) -> str:
    return path.relative_to(DOCS).as_posix() if DOCS in path.parents else path.name


def parse_blocks(path: Path) -> list[Block]:
    """Every fenced block of a Markdown page, in order (MyST directives such as ```{toctree} included)."""
    lines = path.read_text().splitlines()
    blocks, index = [], 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        markers, above = {}, index - 1
        while above >= 0 and (marker := _MARKER.match(lines[above].strip())):
            markers.setdefault(marker["name"], marker["value"] or "")
            above -= 1
        end = index + 1
        while end < len(lines) and lines[end].rstrip() != opening["fence"]:
            end += 1
        assert end < len(lines), f"docs/{page_name(path)}, line {index + 1}: unclosed code fence"
        code = "\n".join(lines[index + 1 : end]) + "\n"
        blocks.append(Block(page_name(path), index + 1, opening["info"], code, markers))
        index = end + 1
    return blocks


def runnable_pages() -> list[str]:
    return [page_name(path) for path in pages() if any(block.executable for block in parse_blocks(path))]


# --------------------------------------------------------------------------------------------- the user's files
@pytest.fixture(scope="module")
def user_files(tmp_path_factory) -> Path:
    """The files the pages name, made once by the synthetic generator (3 s sessions, 2 x 64 channels)."""
    folder = tmp_path_factory.mktemp("user_files")
    rdb = folder / "t1_240101T1200_graph.rdb"
    save_session_rdb(SessionConfig(duration_s=3.0, participant_id="t1"), rdb, folder)
    shutil.copyfile(rdb, folder / "session.rdb")
    (folder / "subject.yaml").write_text(SUBJECT_YAML)
    data = folder / "data"
    for relative, seed in (
        ("2023-11-14/t0_231114T2213_cursor.rdb", 21),
        ("2023-11-15/t0_231115T1010_cursor.rdb", 22),
    ):
        save_session_rdb(SessionConfig(duration_s=3.0, seed=seed), data / relative, data)
    return folder


@contextlib.contextmanager
def live_rig(folder: Path) -> Iterator[None]:
    """A redis-server holding a 2 s BRAND session, reachable as ``folder/redis.sock``.

    Like BRAND's supervisor, it is configured to save into ``RawData/RDB`` (persistence stays off), so the
    exportNWB location is ``folder/RawData/NWB``.
    """
    with EmbeddedRedisServer(extra_config=BRAND_REDIS_CONFIG) as server:
        client = server.client()
        generate_session(client, SessionConfig(duration_s=2.0, seed=31), folder / "rig")
        (folder / "RawData" / "RDB").mkdir(parents=True)
        client.config_set("dir", str(folder / "RawData" / "RDB"))
        client.config_set("dbfilename", "t0_231114T2213_sim_radial8.rdb")
        client.close()
        (folder / "redis.sock").symlink_to(server.socket_path)
        try:
            yield
        finally:
            (folder / "redis.sock").unlink()


def repository_entries() -> set[Path]:
    """The repository's top-level entries and everything under docs/ except the build output."""
    return set(REPOSITORY.iterdir()) | {path for path in DOCS.rglob("*") if BUILD not in path.parents}


# ------------------------------------------------------------------------------------------------- running
def run_python(block: Block, namespace: dict) -> None:
    try:
        exec(compile(block.code, block.where, "exec"), namespace)
    except Exception as error:
        raise AssertionError(f"{block.where}: the python example failed: {error!r}\n{block.code}") from error


def run_bash(block: Block, folder: Path) -> None:
    expected = int(block.markers.get("exit-code") or 0)
    for command in block.commands():
        assert command.startswith("neuroconv-brand "), (
            f"{block.where}: a bash block that runs neuroconv-brand holds only neuroconv-brand commands "
            f"(it is executed); move {command!r} to its own block"
        )
        shell_syntax = [token for token in ("|", ";", "&&", ">", "<", "*", "$(", "`") if token in command]
        assert not shell_syntax, (
            f"{block.where}: `{command}` needs a shell ({shell_syntax}); examples run without one"
        )
        arguments = [str(CONSOLE_SCRIPT), *shlex.split(command)[1:]]
        done = subprocess.run(arguments, cwd=folder, capture_output=True, text=True, timeout=300)
        assert done.returncode == expected, (
            f"{block.where}: `{command}` exited with {done.returncode}, expected {expected}\n"
            f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
        )


def _restore_environment(saved: dict) -> None:
    os.environ.clear()
    os.environ.update(saved)


@pytest.mark.parametrize("page", runnable_pages())
def test_examples_run(page, user_files, tmp_path, monkeypatch):
    assert CONSOLE_SCRIPT.exists(), (
        f"the neuroconv-brand console script is not installed beside {sys.executable}"
    )
    folder = tmp_path / "scratch"
    shutil.copytree(user_files, folder, symlinks=True)
    monkeypatch.chdir(folder)
    before = repository_entries()
    namespace: dict = {"__name__": "__main__"}
    not_run = []
    environment = contextlib.ExitStack()
    environment.callback(_restore_environment, dict(os.environ))  # a page may set variables for its examples
    with environment, live_rig(folder) if page in LIVE_RIG_PAGES else contextlib.nullcontext():
        for block in parse_blocks(DOCS / page):
            if block.input_file is not None:
                (folder / block.input_file).parent.mkdir(parents=True, exist_ok=True)
                (folder / block.input_file).write_text(block.code)
            if not block.executable or "not-executed" in block.markers:
                continue
            required = block.markers.get("requires")
            if required and importlib.util.find_spec(required) is None:
                not_run.append(f"{block.where} (needs {required})")
                continue
            if block.language == "python":
                run_python(block, namespace)
            else:
                run_bash(block, folder)
    created = sorted(str(path) for path in repository_entries() - before)
    assert not created, f"docs/{page}: examples wrote into the repository: {created}"
    if not_run:
        warnings.warn(f"not run here (missing packages): {', '.join(not_run)}", stacklevel=1)


# --------------------------------------------------------------------------------------------- the markers
def all_blocks() -> list[Block]:
    return [block for path in pages() for block in parse_blocks(path)]


def test_markers_are_known_and_skips_give_a_reason():
    for block in all_blocks():
        unknown = set(block.markers) - KNOWN_MARKERS
        assert not unknown, (
            f"{block.where}: unknown marker(s) {sorted(unknown)}; known: {sorted(KNOWN_MARKERS)}"
        )
        for name in ("not-executed", "requires"):
            if name in block.markers:
                assert block.executable, (
                    f"{block.where}: <!-- {name} --> marks a block that would not run anyway"
                )
        reason = block.markers.get("not-executed")
        if reason is not None:
            assert len(reason.split()) >= 3, f"{block.where}: <!-- not-executed: REASON --> needs a reason"


def test_skipped_examples_are_few():
    skipped = [block.where for block in all_blocks() if "not-executed" in block.markers]
    executed = [block for block in all_blocks() if block.executable and "not-executed" not in block.markers]
    assert len(skipped) <= 5, f"too many examples are not executed: {skipped}"
    assert len(executed) >= 40


def test_parser_reads_markers_and_bash_commands(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        "text\n\n<!-- not-executed: needs a live rig -->\n<!-- example: run -->\n```python\nprint(1)\n```\n\n"
        "```bash\nneuroconv-brand convert a.rdb -o a.nwb \\\n    --overwrite\n# a comment\n```\n\n"
        "<!-- example: spec.yml -->\n```yaml\na: 1\n```\n```{toctree}\nx\n```\n"
    )
    python, bash, yaml, toctree = parse_blocks(page)
    assert python.markers == {"not-executed": "needs a live rig", "example": "run"} and python.line == 5
    assert bash.commands() == ["neuroconv-brand convert a.rdb -o a.nwb --overwrite"] and bash.runs_the_cli
    assert yaml.input_file == "spec.yml" and python.input_file is None
    assert not toctree.executable and toctree.input_file is None
