"""The history store: every run added, one SQLite file (docs/history.md).

Runs are keyed by their run id; each keeps its git revision, kernel,
machine (hostname and CPU model), suite, lane, where its directory and
report are, and its results head (metadata and scenario entries, for the
comparability registry).  Every ok trial's metric values are kept, not only
medians, as are all trials' outcomes.
"""
from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from bench.errors import InputError

SCHEMA_VERSION = 1
FILE = "history.sqlite"
DEFAULT = Path("reports") / "history"

_TABLES = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, added TEXT NOT NULL, started TEXT, state TEXT,
    git_revision TEXT, git_dirty INTEGER, kernel TEXT, machine TEXT NOT NULL,
    hostname TEXT, cpu_model TEXT, suite TEXT, lane TEXT NOT NULL,
    run_dir TEXT NOT NULL, report TEXT, head TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS samples (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    scenario TEXT NOT NULL, driver TEXT NOT NULL, protocol TEXT NOT NULL,
    repeat INTEGER NOT NULL, metric TEXT NOT NULL, value REAL NOT NULL);
CREATE INDEX IF NOT EXISTS samples_run ON samples(run_id);
CREATE TABLE IF NOT EXISTS outcomes (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    scenario TEXT NOT NULL, driver TEXT NOT NULL, protocol TEXT NOT NULL,
    repeat INTEGER NOT NULL, status TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS outcomes_run ON outcomes(run_id);
"""
RUN_COLUMNS = ["run_id", "added", "started", "state", "git_revision", "git_dirty", "kernel",
               "machine", "hostname", "cpu_model", "suite", "lane", "run_dir", "report"]


def machine_of(meta: dict) -> str:
    """What keeps series apart: the host and its CPU model."""
    cpu = (meta.get("cpu") or {}).get("model") or "unknown CPU"
    return f"{meta.get('hostname') or 'unknown host'} ({cpu})"


class Store:
    """One history store directory.  `create` makes it when missing;
    otherwise a missing store is an InputError naming the path."""

    def __init__(self, directory: str | Path, create: bool = False):
        self.dir = Path(directory)
        self.file = self.dir / FILE
        if not self.file.is_file():
            if not create:
                raise InputError(f"{self.dir}: no history store here (no {FILE}); add runs with "
                                 f"`python -m bench history add RUN_DIR --store {self.dir}`")
            try:
                self.dir.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise InputError(f"{self.dir}: cannot make a history store there ({e.strerror}); "
                                 "give another --store directory") from None
        try:
            self._db = sqlite3.connect(self.file)
            self._db.execute("PRAGMA foreign_keys = ON")
            with self._db:
                self._db.executescript(_TABLES)
                self._db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)",
                                 (str(SCHEMA_VERSION),))
            version = self._db.execute(
                "SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
        except sqlite3.DatabaseError as e:
            raise InputError(f"{self.file}: not a history store ({e}); give another --store "
                             "directory") from None
        if int(version) > SCHEMA_VERSION:
            raise InputError(f"{self.file}: history schema version {version} is newer than this "
                             f"mptcp-bench reads ({SCHEMA_VERSION}); update mptcp-bench")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def add(self, run) -> bool:
        """Add one run (a RunData); False when its run id is already here."""
        if self._db.execute("SELECT 1 FROM runs WHERE run_id = ?", (run.run_id,)).fetchone():
            return False
        meta, head = run.metadata, run.head
        report = run.path / "report.html" if run.path is not None else None
        row = {"run_id": run.run_id, "added": datetime.now(timezone.utc).isoformat(timespec="seconds"),
               "started": meta.get("started"), "state": head.get("state"),
               "git_revision": (meta.get("git") or {}).get("revision"),
               "git_dirty": (meta.get("git") or {}).get("dirty"),
               "kernel": (meta.get("kernel") or {}).get("release"), "machine": machine_of(meta),
               "hostname": meta.get("hostname"), "cpu_model": (meta.get("cpu") or {}).get("model"),
               "suite": (meta.get("suite") or {}).get("name"),
               "lane": (meta.get("lane") or {}).get("kind", "host"),
               "run_dir": str(run.path.resolve()) if run.path is not None else "",
               "report": str(report.resolve()) if report is not None and report.is_file() else None,
               "head": json.dumps(head, sort_keys=True)}
        samples = run.samples
        trials = run.trials
        with self._db:
            self._db.execute(f"INSERT INTO runs ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                             list(row.values()))
            self._db.executemany(
                "INSERT INTO samples VALUES (?, ?, ?, ?, ?, ?, ?)",
                zip([run.run_id] * len(samples), samples["scenario"].astype(str),
                    samples["driver"].astype(str), samples["protocol"].astype(str),
                    samples["repeat"].astype(int).tolist(), samples["metric"].astype(str),
                    samples["value"].astype(float).tolist()))
            self._db.executemany(
                "INSERT INTO outcomes VALUES (?, ?, ?, ?, ?, ?)",
                zip([run.run_id] * len(trials), trials["scenario"].astype(str),
                    trials["driver"].fillna("native").astype(str), trials["protocol"].astype(str),
                    trials["repeat"].astype(int).tolist(), trials["status"].astype(str)))
        return True

    def remove(self, run_ids: list[str]) -> list[str]:
        """Remove runs by id; returns the ids that were not in the store."""
        missing = [r for r in run_ids if not self._db.execute(
            "SELECT 1 FROM runs WHERE run_id = ?", (r,)).fetchone()]
        with self._db:
            self._db.executemany("DELETE FROM runs WHERE run_id = ?", [(r,) for r in run_ids])
        return missing

    def runs(self) -> pd.DataFrame:
        """One row per run, oldest first (by start time, then run id)."""
        return pd.read_sql(f"SELECT {', '.join(RUN_COLUMNS)} FROM runs ORDER BY started, run_id",
                           self._db)

    def heads(self) -> dict[str, dict]:
        with closing(self._db.execute("SELECT run_id, head FROM runs")) as cur:
            return {run_id: json.loads(head) for run_id, head in cur}

    def samples(self) -> pd.DataFrame:
        return pd.read_sql("SELECT * FROM samples", self._db)

    def outcomes(self) -> pd.DataFrame:
        return pd.read_sql("SELECT * FROM outcomes", self._db)
