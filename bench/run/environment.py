"""The Python environment a run measured with: the lock file's digest and
whether the installed packages are exactly the locked ones.

`make venv` installs requirements.lock (pinned, hash-checked); `make
test-latest` builds an unpinned venv on purpose.  A run records which of the
two it had, so that compare and the history can say when the environment
moved between two runs (docs/testing.md#the-lock-file).
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import re
from dataclasses import dataclass
from pathlib import Path

from packaging.markers import Marker
from packaging.utils import canonicalize_name

LOCK = Path(__file__).resolve().parents[2] / "requirements.lock"
# Not in the lock: the project itself, and the installer that came with the venv.
UNLOCKED = frozenset({"mptcp-bench", "pip"})
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?\s*$")
_HASH = re.compile(r"--hash=(sha256:[0-9a-f]{64})")


@dataclass(frozen=True)
class Pin:
    name: str             # canonical
    version: str
    marker: str | None
    hashes: tuple[str, ...]

    def applies(self, env: dict | None = None) -> bool:
        return self.marker is None or Marker(self.marker).evaluate(env)

    def requirement(self) -> str:
        """One line of a requirements file for pip's hash-checking mode."""
        return " ".join([f"{self.name}=={self.version}", *(f"--hash={h}" for h in self.hashes)])


def parse(text: str) -> list[Pin]:
    """The pins of a lock file as uv and pip-compile write it: `name==version
    [; marker] \\` then `--hash=` lines; comments and blank lines skipped."""
    pins: list[Pin] = []
    for line in text.splitlines():
        stripped = line.strip()
        if m := _PIN.match(stripped):
            pins.append(Pin(canonicalize_name(m[1]), m[2], m[3], ()))
        elif pins and stripped.startswith("--hash="):
            last = pins[-1]
            pins[-1] = Pin(last.name, last.version, last.marker, last.hashes + tuple(_HASH.findall(stripped)))
    return pins


def locked(pins: list[Pin], env: dict | None = None) -> dict[str, Pin]:
    """Per package, the pin whose marker holds here (or in `env`)."""
    return {p.name: p for p in pins if p.applies(env)}


def digest(path: Path = LOCK) -> str | None:
    try:
        return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def installed() -> dict[str, str]:
    return {canonicalize_name(d.metadata["Name"]): d.version
            for d in importlib.metadata.distributions() if d.metadata["Name"]}


def drift(pins: list[Pin], have: dict[str, str]) -> dict[str, str]:
    """Every package installed other than locked, in words."""
    want = {n: p.version for n, p in locked(pins).items()}
    out = {}
    for name in sorted(set(want) | set(have)):
        if name in UNLOCKED or want.get(name) == have.get(name):
            continue
        if name not in have:
            out[name] = f"locked {want[name]}, not installed"
        elif name not in want:
            out[name] = f"installed {have[name]}, not in the lock"
        else:
            out[name] = f"locked {want[name]}, installed {have[name]}"
    return out


def record(path: Path = LOCK) -> dict:
    """What a run's metadata keeps: the lock's digest, and what differs from it."""
    found = digest(path)
    if found is None:
        return {"lock": None, "matches_lock": False, "drift": {}}
    moved = drift(parse(path.read_text()), installed())
    return {"lock": found, "matches_lock": not moved, "drift": moved}
