"""`bench options` probes this kernel for real, and every run records it."""
import json

from clirun import bench

from harness.host import netns
from harness.measure import sockopts


def test_options_json_holds_probes_and_verdicts(root_ns_unchanged):
    before = netns.list_names()
    proc = bench("options", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert set(doc["verdicts"]) == {o.name for o in sockopts.OPTIONS}
    assert set(doc["verdicts"]["TCP_NODELAY"].values()) == {"supported"}
    assert doc["verdicts"] == sockopts.matrix(doc["probes"])
    assert doc["verdicts"]["TCP_FASTOPEN_CONNECT"][sockopts.EFFECT].startswith("supported")
    assert netns.list_names() == before       # a nameless namespace, gone with its thread


def test_the_table_names_every_option():
    proc = bench("options", env={"COLUMNS": "250", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
    assert proc.returncode == 0, proc.stderr
    for o in sockopts.OPTIONS:
        assert o.name in proc.stdout
    assert "supported by MPTCP on every socket" in proc.stdout
