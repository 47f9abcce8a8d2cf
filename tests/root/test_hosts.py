"""`bench run --hosts` between "hosts" that are namespaces running sshd
(tests/root/sshhosts.py): the same suite as a local run, the lease, the
endpoint restore, and refusals.  The controller runs in the management
namespace; the root namespace is not touched."""
from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import time
from pathlib import Path

import pytest
from clirun import bench, start
from sshhosts import PRIOR_ENDPOINT, PRIOR_LIMITS, SshHosts, require_tools

from bench import results_format
from bench.hosts import install
from bench.hosts.ssh import LEASE_S


@pytest.fixture(scope="module", autouse=True)
def _sshd_and_asyncssh():
    require_tools()


SCENARIO = ("--scenario", "aggregate-2x", "--warmup", "1", "--repeat", "3", "--duration", "5")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    """The worker bundle, built once here: the management namespace, where
    the controller runs, has no way out to a package index."""
    old = os.environ.get(install.CACHE_ENV)
    os.environ[install.CACHE_ENV] = str(tmp_path_factory.mktemp("bundles"))
    install.bundle()
    yield
    if old is None:
        del os.environ[install.CACHE_ENV]
    else:
        os.environ[install.CACHE_ENV] = old


@pytest.fixture(scope="module")
def hosts(tmp_path_factory, bundle):
    """The sshd hosts on two shaped 50 Mbit/s links."""
    tmp = tmp_path_factory.mktemp("hosts")
    with SshHosts(tmp) as h:
        h.inventory_path = tmp / "inventory.toml"
        h.inventory_path.write_text(h.inventory(tmp / "install"))
        yield h


def controller(hosts: SshHosts, *args, **kw) -> subprocess.CompletedProcess:
    """`python -m bench ARGS` as the controller, in the management namespace."""
    return bench(*args, wrap=hosts.controller([]), **kw)


def long_run(hosts: SshHosts, out: Path, duration: int = 30, scenarios=("aggregate-2x",),
             extra=()) -> subprocess.Popen:
    """A hosts run of `duration`-s trials, 2 repeats, started as the
    controller, once its workers run on both hosts."""
    picked = [a for s in scenarios for a in ("--scenario", s)]
    proc = start("run", "--hosts", hosts.inventory_path, *picked, "--warmup", "0", "--repeat", "2",
                 "--duration", str(duration), "--out", out, *extra,
                 wrap=hosts.controller([]), stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not _workers_in_both(hosts, duration):
        if proc.poll() is not None or time.monotonic() >= deadline:
            proc.kill()
            raise AssertionError(f"the run's workers never ran on both hosts: {proc.stderr.read()}")
        time.sleep(0.1)
    return proc


def prior(hosts: SshHosts, role: str) -> bool:
    """The host's endpoints and limits are what it had before any run."""
    pm = hosts.pm(role)
    return (pm["limits"] == {"subflows": PRIOR_LIMITS[0], "add_addr_accepted": PRIOR_LIMITS[1]}
            and [(e["id"], e["address"], e["flags"]) for e in pm["endpoints"]]
            == [(1, PRIOR_ENDPOINT, ["signal"])])


def medians(run: Path, driver: str = "native") -> dict[str, float]:
    doc = results_format.load_results(run / "results.json")
    out = {}
    for proto in ("tcp", "mptcp"):
        ok = [t["goodput_bps"] for t in doc["trials"]
              if t["protocol"] == proto and t["driver"] == driver and t["status"] == "ok"]
        assert len(ok) >= 2, f"{proto}/{driver}: only {len(ok)} ok trial(s) in {run}"
        out[proto] = statistics.median(ok)
    return out


def test_hosts_run_agrees_with_the_local_run_and_restores_endpoints(hosts, tmp_path):
    """Both drivers on the hosts, each against the local run of the native engine."""
    hosted = controller(hosts, "run", "--hosts", hosts.inventory_path, *SCENARIO,
                        "--driver", "native", "--driver", "iperf3", "--out", tmp_path / "hosts")
    assert hosted.returncode == 0, hosted.stderr
    local = bench("run", *SCENARIO, "--out", tmp_path / "local")
    assert local.returncode == 0, local.stderr
    runs = {k: (tmp_path / k / "latest").resolve() for k in ("hosts", "local")}
    got = {"hosts": medians(runs["hosts"]), "hosts-iperf3": medians(runs["hosts"], "iperf3"),
           "local": medians(runs["local"])}
    print(json.dumps(got))
    for proto in ("tcp", "mptcp"):
        for lane in ("hosts", "hosts-iperf3"):
            assert abs(got[lane][proto] / got["local"][proto] - 1) <= 0.05, got
    doc = results_format.load_results(runs["hosts"] / "results.json")
    lane = doc["metadata"]["lane"]
    assert lane["kind"] == "hosts" and lane["link_model"] == "surveyed"
    assert set(lane["hosts"]) == {"clienthost", "serverhost"}
    assert all(h["kernel"] == os.uname().release for h in lane["hosts"].values())
    client = lane["hosts"]["clienthost"]
    assert client["nics"]["c1"]["kind"] == "veth" and client["addresses"]["c1"][0]["local"] == "198.18.1.1"
    mptcp = [t for t in doc["trials"] if t["protocol"] == "mptcp"]
    assert {t["driver"] for t in mptcp} == {"native", "iperf3"}
    assert all(t["subflows"] == 2 for t in mptcp if t["status"] == "ok")    # both ends verified
    assert all(t["mib"]["server"].get("MPTcpExtMPJoinAckRx") for t in mptcp)
    applied = doc["scenarios"]["aggregate-2x"]["readback"]["path_manager"]["client"]
    assert [e["address"] for e in applied["endpoints"]] == ["198.18.1.1"]
    assert prior(hosts, "client") and prior(hosts, "server")
    assert not hosts.workers()


def test_use_host_config_changes_nothing_and_records_it(hosts, tmp_path):
    done = controller(hosts, "run", "--hosts", hosts.inventory_path, "--use-host-config",
                      "--scenario", "single-link", "--repeat", "1", "--warmup", "0",
                      "--duration", "2", "--out", tmp_path)
    assert done.returncode == 0, done.stderr
    doc = results_format.load_results((tmp_path / "latest").resolve() / "results.json")
    assert doc["metadata"]["lane"]["use_host_config"] is True
    during = doc["scenarios"]["single-link"]["readback"]["path_manager"]["client"]
    assert [e["address"] for e in during["endpoints"]] == [PRIOR_ENDPOINT]
    assert during["limits"] == {"subflows": PRIOR_LIMITS[0], "add_addr_accepted": PRIOR_LIMITS[1]}
    assert prior(hosts, "client") and prior(hosts, "server")


def test_a_host_of_another_platform_builds_the_worker_from_the_sdist(hosts, tmp_path, monkeypatch):
    """As when a host's Python or machine differs (forced here: one machine):
    the sdist, setuptools and wheel are copied and the engine compiled there."""
    monkeypatch.setenv(install.BUILD_THERE_ENV, "1")
    inv = tmp_path / "inventory.toml"
    inv.write_text(hosts.inventory(tmp_path / "install"))
    done = controller(hosts, "run", "--hosts", inv, "--scenario", "single-link", "--repeat", "1",
                      "--warmup", "0", "--duration", "1", "--out", tmp_path / "out")
    assert done.returncode == 0, done.stderr
    for d in (tmp_path / "install").glob("*/*host"):
        dist = sorted(p.name for p in (d / "dist").iterdir())
        # The project's sdist was copied, not its wheel (setuptools names the
        # sdist mptcp_bench-*.tar.gz too).
        assert any(n.endswith(".tar.gz") for n in dist) and not any(
            n.startswith("mptcp_bench-") and n.endswith(".whl") for n in dist), dist
    assert len(list((tmp_path / "install").glob("*/*host/venv"))) == 2


def test_the_latency_workloads_run_on_the_hosts(hosts, tmp_path):
    """rr, crr and rr_under_load: their worker needs numpy on the host."""
    done = controller(hosts, "run", "--hosts", hosts.inventory_path, "--scenario", "rr",
                      "--scenario", "crr", "--scenario", "rr-under-load", "--repeat", "1",
                      "--warmup", "0", "--duration", "1", "--out", tmp_path)
    assert done.returncode == 0, done.stderr
    doc = results_format.load_results((tmp_path / "latest").resolve() / "results.json")
    assert [(t["scenario"], t["protocol"], t["status"]) for t in doc["trials"]] == [
        (s, p, "ok") for s in ("rr", "crr", "rr-under-load") for p in ("tcp", "mptcp")]
    assert all(t["transactions"] > 0 and t["latency_us_p50"] > 0 for t in doc["trials"])


def test_killed_controller_leaves_nothing_after_the_lease(hosts, tmp_path):
    proc = long_run(hosts, tmp_path)
    try:
        assert not prior(hosts, "client")     # the scenario's endpoints are applied
    finally:
        proc.kill()     # SIGKILL: nothing of the controller runs its cleanup
        proc.wait()
    time.sleep(LEASE_S + 2)
    assert not hosts.workers()
    cleaned = controller(hosts, "clean", "--hosts", hosts.inventory_path)
    assert cleaned.returncode == 0, cleaned.stderr
    assert "restored the MPTCP endpoints" in cleaned.stdout
    assert prior(hosts, "client") and prior(hosts, "server")


def test_ctrl_c_ends_the_run_in_order_and_restores(hosts, tmp_path):
    proc = long_run(hosts, tmp_path)
    try:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 130, proc.stderr.read()
    finally:
        proc.kill()
        proc.wait()
    assert prior(hosts, "client") and prior(hosts, "server") and not hosts.workers()
    doc = results_format.load_results((tmp_path / "latest").resolve() / "results.json")
    assert doc["state"] == "interrupted" and doc["trials"][-1]["status"] == "interrupted"


def test_a_host_cut_off_from_the_controller_ends_its_workers_by_the_lease(hosts, tmp_path):
    """No FIN reaches the host (its management link goes down): the lease
    lapses for want of renewals and the host ends the worker by itself; the
    host back within the reconnect window, the run goes on: that trial
    failed, naming the host, the others ran."""
    proc = long_run(hosts, tmp_path, duration=10)
    try:
        hosts.cut("client")
        time.sleep(LEASE_S + 2)
        assert not _harness_processes(hosts, "client")
        hosts.cut("client", down=False)
        assert proc.wait(180) == 1, proc.stderr.read()
    finally:
        hosts.cut("client", down=False)
        proc.kill()
        proc.wait()
    err = proc.stderr.read()
    assert "host 'clienthost' is lost; reconnecting" in err and "host 'clienthost' is back" in err, err
    assert "Traceback" not in err, err
    doc = results_format.load_results((tmp_path / "latest").resolve() / "results.json")
    assert doc["state"] == "complete"
    assert [t["status"] for t in doc["trials"]].count("failed") == 1, _statuses(doc)
    failed = next(t for t in doc["trials"] if t["status"] == "failed")
    assert "clienthost" in failed["reason"], failed["reason"]
    assert failed["error"]["fault"] == {"kind": "host", "host": "clienthost"}
    assert len(doc["trials"]) == 4 and _unique(doc)
    assert prior(hosts, "client") and prior(hosts, "server") and not hosts.workers()


def test_a_killed_worker_fails_its_trial_and_the_run_completes(hosts, tmp_path):
    """SIGKILL of the server host's worker mid-suite: one failed trial,
    naming the host, and every other trial of the suite run."""
    proc = long_run(hosts, tmp_path, duration=5, scenarios=("aggregate-2x", "single-link"))
    try:
        victim = _worker_in(hosts, "server")
        os.kill(victim, signal.SIGKILL)
        assert proc.wait(240) == 1, proc.stderr.read()
    finally:
        proc.kill()
        proc.wait()
    doc = results_format.load_results((tmp_path / "latest").resolve() / "results.json")
    assert doc["state"] == "complete" and len(doc["trials"]) == 8 and _unique(doc)
    statuses = _statuses(doc)
    assert statuses.count("failed") == 1, statuses
    failed = next(t for t in doc["trials"] if t["status"] == "failed")
    assert "serverhost" in failed["reason"] and failed["seq"] == 0, failed["reason"]
    assert all(t["status"] == "ok" for t in doc["trials"] if t is not failed), statuses
    assert prior(hosts, "client") and prior(hosts, "server") and not hosts.workers()


def test_a_host_away_beyond_the_window_stops_the_run_and_resume_finishes_it(hosts, tmp_path):
    """The client's management link down for longer than --reconnect-s: exit
    1 and a resumable run; with the link back, --resume completes it with
    every trial once."""
    proc = long_run(hosts, tmp_path, duration=8, extra=("--reconnect-s", "3"))
    try:
        hosts.cut("client")
        assert proc.wait(120) == 1, proc.stderr.read()
    finally:
        hosts.cut("client", down=False)
        proc.kill()
        proc.wait()
    err = proc.stderr.read()
    assert "did not come back within 3 s" in err and "--resume" in err and "Traceback" not in err, err
    run = (tmp_path / "latest").resolve()
    doc = results_format.load_results(run / "results.json")
    assert doc["state"] == "interrupted" and "clienthost" in doc["metadata"]["stopped"]["reason"]
    assert len(doc["trials"]) < 4
    resumed = controller(hosts, "run", "--resume", run)
    assert resumed.returncode == 1, resumed.stderr     # the trial the host was lost in failed
    doc = results_format.load_results(run / "results.json")
    assert doc["state"] == "complete" and len(doc["trials"]) == 4 and _unique(doc), _statuses(doc)
    assert _statuses(doc).count("failed") == 1, _statuses(doc)
    assert "clienthost" in doc["metadata"]["resumes"][0]["after_stop"]["reason"]
    assert prior(hosts, "client") and prior(hosts, "server") and not hosts.workers()


def test_resume_refuses_a_hosts_run_whose_hosts_changed(hosts, tmp_path):
    proc = long_run(hosts, tmp_path)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(60) == 130
    run = (tmp_path / "latest").resolve()
    doc = results_format.load_results(run / "results.json")
    doc["metadata"]["lane"]["hosts"]["serverhost"]["kernel"] = "5.10.0-old"
    results_format.write_atomic(run / "results.json", json.dumps(doc))
    done = controller(hosts, "run", "--resume", run)
    assert done.returncode == 2
    assert "host 'serverhost''s kernel is" in done.stderr and "5.10.0-old" in done.stderr, done.stderr


def _statuses(doc: dict) -> list[str]:
    return [t["status"] for t in doc["trials"]]


def _unique(doc: dict) -> bool:
    keys = [(t["scenario"], t["protocol"], t["driver"], t["repeat"]) for t in doc["trials"]]
    return len(keys) == len(set(keys))


def _worker_in(hosts: SshHosts, role: str) -> int:
    for pid, ns in hosts.workers().items():
        try:
            if (ns == hosts.topo.ns(role)
                    and b"harness.traffic.worker" in Path(f"/proc/{pid}/cmdline").read_bytes()):
                return pid
        except OSError:
            continue
    raise AssertionError(f"no worker runs on the {role} host")


def _harness_processes(hosts: SshHosts, role: str) -> list[int]:
    out = []
    for pid, ns in hosts.workers().items():
        try:
            if ns == hosts.topo.ns(role) and b"harness." in Path(f"/proc/{pid}/cmdline").read_bytes():
                out.append(pid)
        except OSError:
            continue
    return out


def _workers_in_both(hosts: SshHosts, duration: int = 30) -> bool:
    """A `duration`-s trial's workers run on both hosts (not the path survey's probes)."""
    found = set()
    for pid, ns in hosts.workers().items():
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            if b"harness.traffic.worker" in cmd and f'"duration_s": {duration}'.encode() in cmd:
                found.add(ns)
        except OSError:
            continue
    return found == {hosts.topo.ns("client"), hosts.topo.ns("server")}


def test_dry_run_prints_the_changes_and_makes_none(hosts, tmp_path):
    inv = tmp_path / "inventory.toml"
    inv.write_text(hosts.inventory(tmp_path / "never"))
    done = controller(hosts, "run", "--hosts", inv, "--scenario", "aggregate-2x", "--dry-run")
    assert done.returncode == 0, done.stderr
    assert "would change: host clienthost, scenario aggregate-2x: MPTCP limits subflows 8" in done.stdout
    assert f"install the worker into {tmp_path / 'never'}" in done.stdout
    assert "would survey (changes nothing): path 1: 2 s of TCP bulk" in done.stdout
    assert not (tmp_path / "never").exists() and prior(hosts, "client")


def test_a_host_behind_a_jump_host(hosts, tmp_path):
    """The server reached through the router host's sshd (asyncssh's tunnel)."""
    inv = tmp_path / "inventory.toml"
    inv.write_text(hosts.inventory(tmp_path / "install").replace(
        'host = "198.18.254.10", user = "root",',
        'host = "198.18.254.10", user = "root", jump = "root@198.18.254.6",'))
    done = controller(hosts, "run", "--hosts", inv, "--scenario", "aggregate-2x", "--dry-run")
    assert done.returncode == 0, done.stderr
    assert "host serverhost (server): kernel" in done.stdout


@pytest.mark.parametrize("edit, named", [
    (lambda t: t.replace('host = "198.18.254.10"', 'host = "198.18.254.10", port = 2222'), "serverhost"),
    (lambda t: t.replace('client_address = "198.18.1.1"', 'client_address = "198.18.7.1"'), "clienthost"),
    (lambda t: t.replace('role = "server"', 'role = "client"'), "role"),
])
def test_unreachable_host_or_bad_inventory_exits_2_naming_it(hosts, tmp_path, edit, named):
    inv = tmp_path / "inventory.toml"
    inv.write_text(edit(hosts.inventory(tmp_path / "install")))
    done = controller(hosts, "run", "--hosts", inv, "--scenario", "aggregate-2x", "--out", tmp_path)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and named in lines[0], lines
    assert not (tmp_path / "install").exists() and not list(tmp_path.glob("2*"))
    assert prior(hosts, "client") and not hosts.workers()


@pytest.fixture(scope="module")
def unshaped_hosts(tmp_path_factory, bundle):
    """Hosts whose paths are not shaped, with a configurable router host."""
    tmp = tmp_path_factory.mktemp("unshaped")
    with SshHosts(tmp, rate_mbit=None) as h:
        h.inventory_path = tmp / "inventory.toml"
        h.inventory_path.write_text(h.inventory(tmp / "install", router=True))
        yield h


def test_a_configurable_router_shapes_the_paths_and_is_restored(unshaped_hosts, tmp_path):
    hosts = unshaped_hosts
    before = hosts.router_qdiscs()
    done = controller(hosts, "run", "--hosts", hosts.inventory_path, "--scenario", "aggregate-2x",
                      "--warmup", "1", "--repeat", "3", "--duration", "4", "--out", tmp_path)
    assert done.returncode == 0, done.stderr
    doc = results_format.load_results((tmp_path / "latest").resolve() / "results.json")
    assert doc["metadata"]["lane"]["link_model"] == "shaped on router routerhost"
    assert set(doc["metadata"]["lane"]["hosts"]["routerhost"]["nics"]) == {"rc0", "rc1", "rs0", "rs1"}
    applied = doc["scenarios"]["aggregate-2x"]["readback"]["qdiscs"]
    assert all(applied[f"{side}{i}"][0]["rate_bps"] == 50_000_000
               for side in ("rc", "rs") for i in (0, 1))
    got = medians((tmp_path / "latest").resolve())
    for proto, rate in got.items():     # what the link model allows, as on the local topology
        expected = next(t["expected_goodput_bps"] for t in doc["trials"] if t["protocol"] == proto)
        assert abs(rate / expected - 1) <= 0.05, (proto, rate, expected)
    assert hosts.router_qdiscs() == before and prior(hosts, "client")
