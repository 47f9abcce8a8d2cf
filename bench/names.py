"""Names that end up in file and namespace names: scenarios, suites, runs.

A name is 1 to 64 characters of ASCII letters, digits, '.', '_' and '-',
starting with a letter or a digit (docs/format.md).  Whatever a file name
is built from, file_in() keeps it inside its directory.
"""
from __future__ import annotations

import re
from pathlib import Path

from bench.errors import InputError

MAX_NAME = 64
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,%d}" % (MAX_NAME - 1))
CHARSET = ("1 to 64 ASCII letters, digits, '.', '_' or '-', starting with a letter "
           "or a digit")
_STEM = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def is_safe(name: object) -> bool:
    return isinstance(name, str) and NAME.fullmatch(name) is not None


def check(kind: str, name: object, where: str = "") -> str:
    """`name`, or InputError saying which character set a `kind` name takes."""
    if not is_safe(name):
        raise InputError(f"{where}{kind} name {_shown(name)} is not allowed: a name is "
                         f"{CHARSET}; rename it")
    return name


def file_in(directory: Path, stem: str, suffix: str) -> Path:
    """directory/<stem><suffix>, refused unless the stem is a plain file name
    made of a name's characters (no separator, no leading dot)."""
    if not _STEM.fullmatch(stem) or len(stem) > 200:
        raise InputError(f"refusing to write a file named {_shown(stem)}{suffix}: it is not "
                         f"made of {CHARSET}")
    return Path(directory) / f"{stem}{suffix}"


def _shown(name: object) -> str:
    text = repr(name)
    return text if len(text) <= 70 else text[:67] + "..."
