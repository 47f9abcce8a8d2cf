"""Test tiers: tests/unit need nothing; tests/root need root and build real
namespaces (CI runs as root).  A root test skipped for lack of root says so;
every root test checks that it left no namespace behind."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness import netns

DATA = Path(__file__).parent / "data"
IS_ROOT = os.geteuid() == 0


def pytest_collection_modifyitems(config, items):
    skip = pytest.mark.skip(reason="needs root to create network namespaces (CI runs as root)")
    for item in items:
        if "tests/root" in str(item.fspath):
            item.add_marker(pytest.mark.root)
            if not IS_ROOT:
                item.add_marker(skip)


@pytest.fixture(autouse=True)
def no_namespace_leaks(request):
    """Fail a test that leaves a project namespace behind."""
    if "tests/root" not in str(request.node.fspath):
        yield
        return
    before = set(netns.list_names())
    yield
    left = [n for n in set(netns.list_names()) - before if not _someone_elses(n)]
    assert not left, f"namespaces left behind: {sorted(left)}"


def _someone_elses(name: str) -> bool:
    """A namespace of another live process (a concurrent run), not a leak."""
    from harness import cleanup, runs
    entry = runs.entry(cleanup.owner_of(name))
    return bool(entry) and entry["pid"] != os.getpid() and runs.is_live(cleanup.owner_of(name))


@pytest.fixture
def data_dir() -> Path:
    return DATA


@pytest.fixture
def write_defs(tmp_path):
    """Write a definitions file and return its path."""
    def write(text: str, name: str = "defs.toml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path
    return write
