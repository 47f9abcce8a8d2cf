"""The project's TOML inputs (scenario and suite files, host inventories):
read with a size cap, and refused in one sentence when they are not what
they claim to be or do not validate."""
from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import ValidationError

from bench import names
from bench.errors import InputError

MAX_FILE = 1 << 20    # these are texts a person writes: 1 MiB is plenty


def read(path: Path, kind: str) -> dict:
    """The TOML table in `path`, a `kind` ("scenario file", "inventory")."""
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_FILE + 1)
    except FileNotFoundError:
        raise InputError(f"{path}: no such {kind}") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read the {kind} ({exc.strerror})") from None
    if len(raw) > MAX_FILE:
        raise InputError(f"{path}: larger than {MAX_FILE >> 20} MiB; a {kind} is a short TOML text")
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start}); a {kind} is a TOML text") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML ({exc})") from None
    except RecursionError:
        raise InputError(f"{path}: nested too deeply to be a {kind}") from None


def sentence(exc: ValidationError) -> str:
    """pydantic's first error, as the end of a sentence that names the key."""
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "(table)"
    if err["type"] == "extra_forbidden":
        return f"unknown key {where!r}"
    if err["type"] == "missing":
        return f"missing required key {where!r}"
    if err["type"] == "value_error":
        return (f"{where}: " if err["loc"] else "") + str(err["ctx"]["error"])
    return f"{where}: {err['msg'].lower()} (got {names._shown(err.get('input'))})"
