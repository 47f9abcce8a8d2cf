"""The result format, owned here and nowhere else.

A run directory holds:
  trials.jsonl  the journal: one trial record per line, appended and flushed
                as each trial ends (its status is the per-trial verdict);
  results.json  the whole run once it ends: metadata, scenario definitions
                and every trial with its final classification;
  trials.csv    one row per trial, the core columns plus scalar metrics.

Every results.json carries `schema_version`.  Loading upgrades older
versions step by step and refuses newer ones.

History:
  1  (2026-11) first format.
  2  (2026-12) trial status `disturbed`; the trial's own and foreign CPU
     (cpu_own_s, cpu_foreign_s, cpu_machine_s, cpu_foreign_share,
     cpu_own_s_per_gb, cpu_own_per_s, cpu_own_us_per_transaction,
     cpu_accounting) and `attempt`.  Version-1 trials get those columns as
     None: they were measured without a cgroup.  (cpu_own_per_s and
     cpu_load_s came a day after the rest, without a new version: a reader
     takes them as None where a file lacks them; so did the hold workload's
     connections, accept_per_s, connect_per_s, conn_mem_bytes,
     cpu_own_us_per_connection and conn_memory, and the native engine's
     cpu_controller_share and controller_cpu.  The trial's `noise`
     record left the same day, also without a new version: nothing read
     it, and cpu_accounting's foreign_s supersedes it.)
"""
from __future__ import annotations

import json
import os
import typing
from pathlib import Path
from typing import TypedDict

from bench import names
from bench.errors import InputError

SCHEMA_VERSION = 2

# The files of a run directory.
JOURNAL = "trials.jsonl"
RESULTS = "results.json"
CSV = "trials.csv"
REPORT = "report.md"
LATEST = "latest"
PROFILES = "profiles"     # run --profile: one folded-stacks file per trial


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


STATUSES = ("ok", "fallback", "partial", "stalled", "disturbed", "failed", "unsupported",
            "skipped", "interrupted")

class CoreColumns(TypedDict):
    """One row per trial; every record has these keys (None when not applicable)."""
    run_id: str
    scenario: str
    protocol: str
    driver: str
    repeat: int
    seq: int
    status: str
    reason: str | None
    duration_s: float | None
    bytes: int | None
    goodput_bps: float | None
    cpu_sender_s: float | None
    cpu_receiver_s: float | None
    cpu_system_s: float | None
    cpu_system_s_per_gb: float | None
    subflows: int | None
    retransmits: int | None


class TrialColumns(CoreColumns):
    """Scalar extras that also go to trials.csv (nested detail stays in JSON).
    Workload-specific ones are None where they do not apply (latency columns
    on a bulk trial, goodput on an RR one)."""
    family: int | None
    cpu_placement: str | None
    cpu_sender: int | None
    cpu_receiver: int | None
    subflows_expected: int | None
    expected_goodput_bps: float | None
    expected_is_upper_bound: bool | None
    cpu_system_outer_s_per_gb: float | None
    cpu_sender_s_per_gb: float | None
    cpu_receiver_s_per_gb: float | None
    cpu_softirq_s: float | None
    # whose CPU (bench/record/cpu_fields.py): the trial's cgroup + ksoftirqd on its
    # CPUs; the machine's busy time (steal included) and the rest of it, foreign
    cpu_own_s: float | None
    cpu_foreign_s: float | None
    cpu_machine_s: float | None
    cpu_foreign_share: float | None    # foreign CPU-seconds per second of the window
    cpu_own_s_per_gb: float | None
    cpu_own_per_s: float | None        # own CPU-seconds per second of the window: CPUs used
    cpu_own_us_per_transaction: float | None
    cpu_own_us_per_connection: float | None   # hold: own CPU per connection set up
    cpu_load_s: float | None           # the scenario's competing CPU load (not own, not foreign)
    cpu_controller_share: float | None  # native bulk/rr: workers' CPU outside the C loops / own CPU
    attempt: int | None                # 1, or 2.. for the re-runs of a disturbed trial
    mptcp_verified: bool | None
    started_at: float | None
    # workload and engine modes
    workload: str | None
    flows: int | None                  # concurrent connections of the workload
    fairness_jain: float | None        # bulk, flows > 1: Jain's index of the flows' goodputs
    send_mode: str | None
    recv_mode: str | None
    recv_lowat_kib: int | None
    notsent_lowat_kib: int | None
    # latency workloads (rr, crr, rr_under_load): per-transaction latency
    transactions: int | None
    transactions_per_s: float | None
    latency_us_p50: float | None
    latency_us_p90: float | None
    latency_us_p99: float | None
    latency_us_p999: float | None
    latency_us_max: float | None
    cpu_system_us_per_transaction: float | None
    # hold: the cost of a connection
    connections: int | None            # connections set up and held
    accept_per_s: float | None         # the listener draining a full accept queue
    connect_per_s: float | None        # the client connecting back to back
    conn_mem_bytes: float | None       # the sockets' memory per connection, both ends
    connect_ms: float | None           # native bulk: the client's first connect(), SYN to established
    # scenarios with a path failure: delivery gap and time to recover after it
    failover_gap_ms: float | None
    failover_recover_s: float | None
    # scenarios where a path went down and came back: when it carried data again
    restore_first_data_s: float | None
    restore_unused: bool | None         # the restored path carried nothing until the trial ended
    # delayed links: host (the delay line) or netem; None without delay
    delay_backend: str | None
    # MPTCP: the client's path manager and what it did (bench/record/pm_fields.py)
    path_manager: str | None            # kernel | userspace (mptcpd)
    join_ms: float | None               # median over connections: established to first join
    join_ms_max: float | None           # the slowest join of the trial
    joins: int | None                   # further subflows established (watched connections)
    joins_failed: int | None            # further subflows that closed before established
    pm_daemon_cpu_s: float | None       # the userspace PM daemon's CPU over the trial


COLUMN_TYPES: dict[str, type] = {
    name: next(t for t in typing.get_args(hint) or (hint,) if t is not type(None))
    for name, hint in typing.get_type_hints(TrialColumns).items()}
CORE_COLUMNS = tuple(CoreColumns.__annotations__)
EXTRA_COLUMNS = tuple(c for c in COLUMN_TYPES if c not in CORE_COLUMNS)
NUMERIC_COLUMNS = tuple(c for c, t in COLUMN_TYPES.items() if t in (int, float, bool))
# A JSON value a column of each type accepts (ints are floats; bools are not numbers).
_ACCEPTS = {str: (str,), int: (int,), float: (int, float), bool: (bool,)}

class TrialRecord(TrialColumns, total=False):
    """A whole trial record: the flat columns plus nested fields, in JSON only
    (results.json, trials.jsonl).  docs/format.md describes each field; a
    test holds the records the builders make, and that page, to this list."""
    intervals_bytes: list          # bytes delivered per interval (receiver side)
    interval_s: float
    intervals_transactions: list   # rr/crr: transactions completed per interval (client)
    flows_goodput_bps: list        # bulk, flows > 1: each flow's goodput (receiver side)
    engine_loop: dict              # native bulk: {sender, receiver}: which loop ran, and why
    subflow_detail: list           # per-subflow dicts as the client saw them
    subflow_detail_server: list    # the same, from the server's accepted socket
    subflow_share: list            # each subflow's share of the bytes acked
    subflow_intervals_bytes: list  # MPTCP, native: per subflow, bytes acked per interval
    subflow_intervals_keys: list   # "local → remote" of each of those subflows
    calls: dict                    # {send, recv}: system calls of the native bulk loops
    window_s: float                # the sender's transfer window (None for iperf3)
    system: dict                   # /proc/stat deltas over the window
    cpu_system_window: str         # which window `system` covers: sender | outer
    noise: dict                    # other processes' and kernel threads' CPU in the trial
    cpu_accounting: dict           # own/foreign CPU detail and the foreign load's top processes
    sender_send_bytes: int         # bytes the sender handed to the kernel
    events: list                   # link events applied, with the delivery gap after them
    stall: dict                    # why a trial is stalled
    server_protocol: str           # the listener's protocol
    client_protocol: str           # the client's (the trial's, unless the scenario fixes it)
    mptcp: dict                    # {client, server}: what each end's socket says
    mib: dict                      # {client, server}: MIB counter deltas per namespace
    error: dict                    # {call, errno, message, side, unsupported, mode}
    mode_support: dict             # {send, recv}: what each engine mode really did
    latency_samples_us: list       # per-transaction latencies, decimated to at most 2000
    transactions_detail: dict      # per-flow transaction counts
    latency_unloaded: dict         # rr_under_load: the phase without load
    load: dict                     # rr_under_load: the bulk flows' figures
    verify: dict                   # the receiver's check of the payload pattern
    tool: dict                     # a second driver's own figures and commands
    profile: dict                  # run --profile: busy/idle samples, busiest symbols, stacks file
    server_learned: dict           # MPTCP: client addresses the server saw, ADD_ADDR/RM_ADDR/joins
    tcp_retry: dict                # a client whose MPTCP socket() failed and retried with TCP
    delay_line: dict               # host delay line: per queue packets, drops, verdict lateness
    conn_memory: dict              # hold: sockets gained per end and protocol, slab growth
    mptcp_connections: dict        # MPTCP, several connections: handshakes and joins the MIB counted
    controller_cpu: dict           # native bulk/rr: each end's CPU outside the C loops
    offloads: dict                 # {role: {ifname: {gro, gso, tso, ...}}} at the trial's start
    restores: list                 # per restored link: outage, first data after it, time watched
    pm_timeline: dict              # MPTCP: the client's connections and subflows from the PM events
    before_failure: dict           # a failed bulk trial: what was sent, delivered and verified
    attack: dict                   # an attack scenario: verdict, evidence, delivery around it


NESTED_FIELDS = tuple(k for k in TrialRecord.__annotations__ if k not in COLUMN_TYPES)

# Workload columns: `workload` is bulk|rr|crr|rr_under_load|hold; send_mode / recv_mode /
# recv_lowat_kib (SO_RCVLOWAT of the receiver, 0 when not set) and notsent_lowat_kib
# (TCP_NOTSENT_LOWAT of the sender, likewise) are None where no bulk
# flow runs (rr, crr); goodput_bps and expected_goodput_bps are None
# for every non-bulk workload; cpu_system_us_per_transaction is None for rr_under_load
# (its busy time is the load's).
#
# results.json's `state` is running (written at the start and after each
# scenario, so a killed run leaves its plan), interrupted or complete;
# metadata.suite is the plan (drivers, scenario definitions and files: what
# `run --resume` rebuilds it from) and metadata.resumes lists resumes.  After
# a resume, trials.jsonl still holds the records of trials that were
# interrupted and run again; results.json holds the final ones.

# Upgraders: UPGRADES[n] turns a version-n document into version n+1.
def _v1_to_v2(doc: dict) -> dict:
    trials = doc.get("trials")
    for t in trials if isinstance(trials, list) else []:   # check_trials refuses the rest
        if isinstance(t, dict):
            for column in (*_V2_COLUMNS, "attempt"):
                t.setdefault(column, None)
    return {**doc, "schema_version": 2}


_V2_COLUMNS = ("cpu_own_s", "cpu_foreign_s", "cpu_machine_s", "cpu_foreign_share",
               "cpu_own_s_per_gb", "cpu_own_per_s", "cpu_own_us_per_transaction", "cpu_load_s")
UPGRADES: dict[int, callable] = {1: _v1_to_v2}


def results_document(run_id: str, metadata: dict, scenarios: dict, trials: list[dict],
                     state: str) -> dict:
    # `trials` stays the last key: load_head() stops reading there.
    return {"schema_version": SCHEMA_VERSION, "run_id": run_id, "state": state,
            "metadata": metadata, "scenarios": scenarios, "trials": trials}


def check_version(doc: dict, source: str) -> int:
    if not isinstance(doc, dict):
        raise InputError(f"{source}: not an mptcp-bench results file (no JSON object)")
    version = doc.get("schema_version")
    if not isinstance(version, int):
        raise InputError(f"{source}: no schema_version; this is not an mptcp-bench results file")
    if version > SCHEMA_VERSION:
        raise InputError(f"{source}: written by a newer mptcp-bench (schema {version}, this one "
                         f"reads up to {SCHEMA_VERSION}); upgrade mptcp-bench to read it")
    _check_head(doc, source)
    return version


def _check_head(doc: dict, source: str) -> None:
    """The shape every reader relies on, and names safe to build paths from:
    a damaged or hand-made file is refused in one sentence."""
    if not names.is_safe(doc.get("run_id")):
        raise InputError(f"{source}: its run_id is missing or not a run name "
                         f"({names.CHARSET}); this file is damaged")
    for key in ("metadata", "scenarios"):
        if not isinstance(doc.get(key, {}), dict):
            raise InputError(f"{source}: `{key}` is not an object; this file is damaged")
    for name, entry in doc.get("scenarios", {}).items():
        names.check("scenario", name, f"{source}: ")
        if not isinstance(entry, dict):
            raise InputError(f"{source}: scenario {name!r} is not an object; this file is damaged")


def check_trials(trials, source: str) -> list[dict]:
    """Trial records as readers need them: objects with a safe scenario name,
    a protocol, a known status, and columns of their declared types."""
    if not isinstance(trials, list):
        raise InputError(f"{source}: `trials` is not a list; this file is damaged")
    for i, t in enumerate(trials):
        if not (isinstance(t, dict) and names.is_safe(t.get("scenario"))
                and t.get("protocol") in ("tcp", "mptcp") and t.get("status") in STATUSES):
            raise InputError(f"{source}: trial {i} lacks a scenario name, protocol or known "
                             "status; this file is damaged")
        for column, kind in COLUMN_TYPES.items():
            value = t.get(column)
            if value is not None and (not isinstance(value, _ACCEPTS[kind])
                                      or (kind is not bool and isinstance(value, bool))):
                raise InputError(f"{source}: trial {i}'s {column} is {names._shown(value)}, "
                                 f"not a {kind.__name__}; this file is damaged")
    return trials


def upgrade(doc: dict, source: str) -> dict:
    version = check_version(doc, source)
    while version < SCHEMA_VERSION:
        if version not in UPGRADES:
            raise InputError(f"{source}: schema {version} is too old: this mptcp-bench has no "
                             f"upgrade from schema {version}; read it with an older release")
        doc = UPGRADES[version](doc)
        version = doc["schema_version"]
    check_trials(doc.get("trials"), source)
    return doc


def load_results(path: Path) -> dict:
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"{path}: no such file; is this a run directory?") from None
    except ValueError as exc:
        raise InputError(f"{path}: not valid JSON ({exc})") from None
    return upgrade(doc, str(path))


def load_head(path: Path) -> dict:
    """A results document without its trials, read only up to the `trials`
    key (the last one): the metadata of a 100 000-trial run without
    building its trials.  Its version is checked, not upgraded."""
    try:
        with open(path, encoding="utf-8") as f:
            text, chunk = "", 1 << 16
            while True:
                more = f.read(chunk)
                text, chunk = text + more, chunk * 4
                try:
                    head = _head(text)
                    break
                except ValueError:
                    if not more:
                        raise
    except FileNotFoundError:
        raise InputError(f"{path}: no such file; is this a run directory?") from None
    except ValueError as exc:
        raise InputError(f"{path}: not valid JSON ({exc})") from None
    check_version(head, str(path))
    return head


def _head(text: str) -> dict:
    """Top-level keys of a JSON object in order, up to "trials"; ValueError
    when the text ends first."""
    decoder, ws = json.JSONDecoder(), json.decoder.WHITESPACE
    i = ws.match(text, 0).end()
    if text[i:i + 1] != "{":
        raise json.JSONDecodeError("expected an object", text, i)
    head, i = {}, i + 1
    while True:
        i = ws.match(text, i).end()
        if text[i:i + 1] == "}":
            return head
        key, i = decoder.raw_decode(text, i)
        i = ws.match(text, i).end()
        if text[i:i + 1] != ":":
            raise json.JSONDecodeError("expected ':'", text, i)
        if key == "trials":
            return head
        head[key], i = decoder.raw_decode(text, ws.match(text, i + 1).end())
        i = ws.match(text, i).end()
        if text[i:i + 1] == ",":
            i += 1


def csv_row(trial: dict) -> dict:
    return {k: trial.get(k) for k in COLUMN_TYPES}
