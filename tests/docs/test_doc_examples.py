"""The Python examples of the user docs run as written (in order, in one namespace, in a scratch folder)."""

import os
import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
#: Pages whose examples are self-contained (they make their own sessions). Other pages show paths of the
#: user's own files; their APIs are exercised by the integration tests.
SELF_CONTAINED_PAGES = ["continuous-data.md"]


def python_blocks(page: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.DOTALL)


@pytest.mark.parametrize("page", SELF_CONTAINED_PAGES)
def test_examples_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    blocks = python_blocks(DOCS / page)
    assert blocks, f"{page} has no python examples"
    namespace: dict = {}
    for number, block in enumerate(blocks, start=1):
        try:
            exec(compile(block, f"{page} example {number}", "exec"), namespace)
        except Exception as error:
            raise AssertionError(f"{page}, example {number} failed: {error!r}\n{block}") from error
    assert os.listdir(tmp_path)


def test_getting_started_demo_example(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (block,) = [b for b in python_blocks(DOCS / "getting-started.md") if "run_demo" in b]
    exec(compile(block.replace("duration_s=5.0", "duration_s=3.0"), "getting-started demo", "exec"), {})
    assert (tmp_path / "neuroconv-brand-demo" / "demo.nwb").exists()
