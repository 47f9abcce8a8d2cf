"""Debian kernels by name: which package a name means, read from apt's
output as captured from Debian's archive (2026-12-07), and the cache's
entries; no network."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.cli import main
from harness.host import kernelcache

DATA = Path(__file__).resolve().parents[1] / "data" / "apt"


def _text(name: str) -> str:
    return (DATA / name).read_text()


def test_a_suite_name_means_the_newest_kernel_of_its_suites():
    candidates = kernelcache.parse_madison(_text("madison.txt"))
    assert ("6.1.176-1", "bookworm") in candidates and len(candidates) == 4
    # bookworm-security's 6.1 is newer than the point release's
    assert kernelcache.newest(candidates, kernelcache.SUITES["6.1"]) == ("6.1.192-3", "bookworm-security")
    assert kernelcache.newest(candidates, kernelcache.SUITES["6.12"]) == \
        ("6.12.95-1~bpo12+1", "bookworm-backports")
    assert kernelcache.newest(candidates, kernelcache.SUITES["unstable"]) == ("7.2.13-1", "unstable")
    assert kernelcache.newest(candidates, ("trixie",)) is None


def test_the_image_package_and_since_7x_its_split_parts_are_fetched():
    (meta,) = kernelcache.parse_control(_text("show-meta-7.2.txt"))
    assert kernelcache._image_package(meta) == "linux-image-7.2.13+deb14-amd64"
    (image,) = kernelcache.parse_control(_text("show-image-7.2.txt"))
    parts = [d for d in kernelcache._depends(image) if kernelcache.PARTS.match(d)
             and d.endswith("7.2.13+deb14-amd64")]
    assert parts == ["linux-base-7.2.13+deb14-amd64", "linux-binary-7.2.13+deb14-amd64",
                     "linux-modules-7.2.13+deb14-amd64"]
    assert kernelcache._image_package(meta) != "linux-base-amd64"
    assert len(image["SHA256"]) == 64
    (older,) = kernelcache.parse_control(_text("show-image-6.12.txt"))
    assert not [d for d in kernelcache._depends(older) if kernelcache.PARTS.match(d)]


@pytest.mark.parametrize("name, ok", [("debian:6.1", True), ("debian:unstable", True),
                                      ("debian:6.12.95-1~bpo12+1", True), ("debian:trixie", False),
                                      ("debian:../../etc", False), ("debian:", False)])
def test_names_are_checked(name, ok):
    if ok:
        assert kernelcache.check_name(name)
    else:
        with pytest.raises(ValueError, match="not a Debian kernel name"):
            kernelcache.check_name(name)


def test_a_bad_name_is_refused_before_anything_runs(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--kernel", "debian:oldstable", "--suite", "quick"]) == 2
    assert "not a Debian kernel name" in capsys.readouterr().err
    assert main(["run", "--kernel", "host", "--kernel", "debian:x/y", "--suite", "quick"]) == 2
    assert "not a Debian kernel name" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def _entry(root: Path, version: str, suite: str, layout: str = "boot") -> Path:
    release = version.split("-")[0] + "-amd64"
    image = Path("root/boot" if layout == "boot" else f"root/usr/lib/modules/{release}") / \
        (f"vmlinuz-{release}" if layout == "boot" else "vmlinuz")
    (root / version / image).parent.mkdir(parents=True)
    (root / version / image).write_bytes(b"MZ")
    (root / version / kernelcache.META).write_text(json.dumps(dict(
        name=f"debian:{version}", package=f"linux-image-{release}", version=version, suite=suite,
        release=release, image=str(image), debs=[], fetched=f"2026-12-07T0{len(version)}:00:00")))
    return root / version / image


def test_the_cache_lists_its_entries_with_their_images(tmp_path):
    a = _entry(tmp_path, "6.1.192-3", "bookworm-security")
    b = _entry(tmp_path, "7.2.13-1", "unstable", layout="usr")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / kernelcache.META).write_text("{not json")
    kernels = kernelcache.cached(tmp_path)
    assert {k.image for k in kernels} == {str(a), str(b)}
    assert kernelcache._find_image(tmp_path / "7.2.13-1" / "root", "7.2.13-amd64") == b
    with pytest.raises(kernelcache.KernelFetchError, match="no vmlinuz"):
        kernelcache._find_image(tmp_path / "junk", "7.2.13-amd64")


def test_a_cached_version_needs_no_archive_and_a_suite_falls_back_to_the_cache(tmp_path, monkeypatch):
    image = _entry(tmp_path, "6.1.192-3", "bookworm-security")

    class Offline:
        def __init__(self, root):
            pass

        def update(self):
            raise kernelcache.KernelFetchError("apt-get update failed against Debian's archive: "
                                               "Temporary failure resolving 'deb.debian.org'")

    monkeypatch.setattr(kernelcache, "_Apt", Offline)
    said = []
    assert kernelcache.resolve("debian:6.1.192-3", tmp_path, log=said.append).image == str(image)
    assert not said
    assert kernelcache.resolve("debian:6.1", tmp_path, log=said.append).version == "6.1.192-3"
    assert said and "cannot be reached; using the cached 6.1.192-3" in said[0]
    with pytest.raises(kernelcache.KernelFetchError, match="Temporary failure"):
        kernelcache.resolve("debian:unstable", tmp_path, log=said.append)


def test_clearing_empties_the_cache(tmp_path):
    _entry(tmp_path, "6.1.192-3", "bookworm-security")
    (tmp_path / ".apt").mkdir()
    (tmp_path / ".apt" / "status").write_text("x")
    assert kernelcache.clear(tmp_path) >= 3
    assert [p.name for p in tmp_path.iterdir()] == [".lock"]
    assert kernelcache.clear(tmp_path / "none") == 0


def test_a_kernel_matrix_gives_each_run_the_version_it_fetched(tmp_path, monkeypatch):
    from bench.lanes import matrix, vmlane
    monkeypatch.setenv(kernelcache.CACHE_ENV, str(tmp_path / "cache"))
    _entry(tmp_path / "cache", "6.1.192-3", "bookworm-security")

    class Archive:      # what the archive lists today: 6.1 is cached, unstable has none
        def __init__(self, root):
            pass

        def update(self):
            pass

        def pick(self, what):
            if what == "6.1":
                return "6.1.192-3", "bookworm-security"
            raise kernelcache.KernelFetchError(f"debian:{what}: the archive lists none")

    monkeypatch.setattr(kernelcache, "_Apt", Archive)
    children = []

    def child(cmd):
        children.append(cmd)
        return 1, "no run"

    monkeypatch.setattr(matrix, "_run", child)
    said = []
    console = type("Console", (), {"print": lambda self, line: said.append(line)})()
    kernels = ["host", "debian:6.1", "debian:unstable"]
    assert matrix.run(kernels, ["run", "--suite", "quick"], tmp_path / "out", tmp_path / "store",
                      console) == 2
    assert [cmd[cmd.index("--kernel") + 1] if "--kernel" in cmd else None
            for cmd in children] == [None, "debian:6.1.192-3"]
    assert "kernel debian:unstable: not run: debian:unstable: the archive lists none" in said
    # The run finds that version in the cache without asking the archive.
    monkeypatch.setattr(kernelcache, "_Apt", None)
    assert vmlane.find_kernel("debian:6.1.192-3")[1]["version"] == "6.1.192-3"
