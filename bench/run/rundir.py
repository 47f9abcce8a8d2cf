"""A run's output directory, written so that a crash never leaves a
half-written file: the journal is appended line by line and fsynced, every
other file is written to a temporary name and renamed into place."""
from __future__ import annotations

import csv
import io
import json
import os
import random
import time
from pathlib import Path

from bench import results_format
from bench.errors import InputError
from bench.results_format import CSV, JOURNAL, LATEST, REPORT, RESULTS, write_atomic  # noqa: F401


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + f"-{random.getrandbits(16):04x}"


def check_writable(root: Path) -> None:
    """Refuse an --out that cannot hold a run, before anything is built."""
    probe = Path(root)
    while True:
        try:
            probe.stat()
            break
        except (FileNotFoundError, NotADirectoryError):
            probe = probe.parent
        except OSError as exc:
            raise InputError(f"cannot write run results under {root}: {exc.strerror} on {probe}; "
                             "pass --out with a directory you can write") from None
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        raise InputError(f"cannot write run results under {root}: {probe} is not a writable "
                         "directory; pass --out with a directory you can write")


class RunDir:
    def __init__(self, root: Path, run_id: str):
        self.root = Path(root)
        self.run_id = run_id
        self.path = self.root / run_id

    def create(self) -> "RunDir":
        check_writable(self.root)
        try:
            self.path.mkdir(parents=True, exist_ok=False)
        except OSError as exc:
            raise InputError(f"cannot create {self.path}: {exc.strerror}; "
                             "pass --out with a directory you can write") from None
        return self

    def reopen(self) -> "RunDir":
        """An existing run directory, made ready to append to: a journal line
        torn by a crash is cut off (a record appended after it would be
        glued to it and lost too), and temporary files a killed writer left
        are removed."""
        if not (self.path / RESULTS).is_file():
            raise InputError(f"{self.path} holds no {RESULTS}; is this a run directory?")
        if not os.access(self.path, os.W_OK | os.X_OK):
            raise InputError(f"cannot write to {self.path}; resume it as a user who can")
        journal = self.path / JOURNAL
        if journal.exists():
            data = journal.read_bytes()
            whole = data.rfind(b"\n") + 1
            if whole < len(data):
                os.truncate(journal, whole)
        for tmp in self.path.glob(".*.tmp-*"):
            tmp.unlink()
        return self

    def append_trial(self, record: dict) -> None:
        with open(self.path / JOURNAL, "a") as f:
            f.write(json.dumps(record, default=_jsonable) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def write_results(self, doc: dict) -> None:
        write_atomic(self.path / RESULTS, json.dumps(doc, indent=1, default=_jsonable) + "\n")

    def write_csv(self, trials: list[dict]) -> None:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=[*results_format.CORE_COLUMNS, *results_format.EXTRA_COLUMNS])
        writer.writeheader()
        for t in trials:
            writer.writerow(results_format.csv_row(t))
        write_atomic(self.path / CSV, buf.getvalue())

    def point_latest(self) -> None:
        """reports/latest -> this run, replaced atomically."""
        link = self.root / LATEST
        tmp = self.root / f".{LATEST}.tmp-{os.getpid()}"
        if tmp.is_symlink():
            tmp.unlink()
        os.symlink(self.run_id, tmp)
        os.replace(tmp, link)


def read_journal(path: Path) -> list[dict]:
    """Trials from a journal; a torn last line (a crash mid-write) is skipped."""
    out = []
    try:
        lines = (path / JOURNAL).read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return out
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            out.append(record)
    return out


def _jsonable(value):
    if isinstance(value, (set, tuple)):
        return list(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")
