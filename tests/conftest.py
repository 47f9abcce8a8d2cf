"""Test tiers: tests/unit need nothing; tests/root need root and build real
namespaces (CI runs as root).  A root test skipped for lack of root says so;
every root test checks that it left no namespace behind."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from harness.host import netns

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def catalog():
    """The built-in scenarios and suites."""
    from bench.catalog import Catalog
    return Catalog()


IS_ROOT = os.geteuid() == 0


def _needs_root(item) -> bool:
    return any(f"tests/{tier}" in str(item.fspath) for tier in ("root", "vm", "lane"))


def _has_netem() -> bool:
    from harness.net import capabilities
    netem = capabilities.probe().get("netem")
    return bool(netem and netem.ok)


def pytest_collection_modifyitems(config, items):
    skip = pytest.mark.skip(reason="needs root to create network namespaces (CI runs as root)")
    no_netem = pytest.mark.skip(reason="this kernel has no netem: these tests run in the VM "
                                       "lane (`make test-vm`, part of `make test`)")
    vm_items = [i for i in items if "tests/vm" in str(i.fspath)]
    netem = IS_ROOT and bool(vm_items) and _has_netem()
    for item in items:
        if _needs_root(item):
            item.add_marker(pytest.mark.root)
            if not IS_ROOT:
                item.add_marker(skip)
        if item in vm_items:
            item.add_marker(pytest.mark.netem)
            if IS_ROOT and not netem:
                item.add_marker(no_netem)


@pytest.fixture(autouse=True)
def no_namespace_leaks(request):
    """Fail a test that leaves a project namespace behind."""
    if not _needs_root(request.node):
        yield
        return
    before = set(netns.list_names())
    yield
    left = [n for n in set(netns.list_names()) - before if not _someone_elses(n)]
    assert not left, f"namespaces left behind: {sorted(left)}"


def _someone_elses(name: str) -> bool:
    """A namespace of another live process (a concurrent run), not a leak."""
    from harness import cleanup, ownership
    entry = ownership.entry(cleanup.owner_of(name))
    return bool(entry) and entry["pid"] != os.getpid() and ownership.is_live(cleanup.owner_of(name))


@pytest.fixture(autouse=True, scope="session")
def root_namespace_unchanged_by_the_session():
    """After the whole session, the root namespace is what it was before it:
    all of /proc/sys, links, addresses, routes, rules, qdiscs, nftables and
    iptables (tests/root/rootns.py)."""
    if not IS_ROOT:
        yield
        return
    sys.path.insert(0, str(Path(__file__).parent / "root"))
    import rootns
    before = rootns.snapshot()
    yield
    rootns.assert_unchanged(before)


@pytest.fixture(autouse=True, scope="session")
def own_run_lock(tmp_path_factory):
    """This test session's own run lock (harness.ownership): test sessions on a
    shared machine must not refuse each other's runs; the runs of one
    session still exclude each other."""
    from harness import ownership
    os.environ[ownership.LOCK_ENV] = str(tmp_path_factory.mktemp("lock") / "run.lock")


@pytest.fixture(scope="session")
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
