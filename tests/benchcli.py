"""`python -m bench` run as a user runs it, for every tier: in the
foreground (bench) or in the background (start), under an optional
command prefix `wrap` (a tracer, setpriv, nsenter into a namespace)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def argv(*args, wrap=()) -> list[str]:
    return [*wrap, sys.executable, "-m", "bench", *map(str, args)]


def bench(*args, env=None, wrap=(), timeout: float = 300, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(argv(*args, wrap=wrap), cwd=ROOT, capture_output=True, text=True,
                          env=env, timeout=timeout, **kw)


def start(*args, env=None, wrap=(), stdout=subprocess.PIPE) -> subprocess.Popen:
    return subprocess.Popen(argv(*args, wrap=wrap), cwd=ROOT, text=True, env=env, stdout=stdout,
                            stderr=subprocess.PIPE)
