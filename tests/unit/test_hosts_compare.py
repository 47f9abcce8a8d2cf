"""Two hosts runs are the same experiment only on the same hosts, kernels
and path NICs (bench.analysis.comparability.hosts_identity): compare and
gate refuse others unless --force."""
import copy
import json

import pytest

from bench.analysis import comparability
from bench.cli import main


@pytest.fixture
def doc(data_dir):
    return json.loads((data_dir / "runs" / "hosts-zerocopy" / "results.json").read_text())


def _incomparable(a, b) -> list[str]:
    return [d.key for d in comparability.incomparable(
        comparability.differences(a, b, {"mode-zerocopy"}))]


def test_the_identity_of_a_hosts_run(doc):
    ident = comparability.hosts_identity(doc["metadata"]["lane"])
    assert ident["hosts_lane.client.host"] == "clienthost"
    assert ident["hosts_lane.server.kernel"] == "6.18.44-fc-v1300"
    assert ident["hosts_lane.router.host"] is None
    assert ident["hosts_lane.path1.client.nic"] == "veth (virtual)"
    assert comparability.hosts_identity({"kind": "host"}) == {}
    assert not [k for k in comparability.unregistered(doc) if k.startswith(("lane", "hosts_lane"))]


def test_a_rerun_on_the_same_hosts_is_comparable(doc):
    again = copy.deepcopy(doc)
    lane = again["metadata"]["lane"]
    lane["hosts"]["clienthost"]["clock"]["skew_s"] += 0.5
    lane["survey"]["paths"][0]["bulk"]["goodput_bps"] *= 0.9
    lane["survey"]["clocks"]["clienthost"]["skew_s"] += 0.5
    assert _incomparable(doc, again) == []


def test_other_hosts_kernels_or_nics_are_incomparable(doc):
    renamed = copy.deepcopy(doc)
    hosts = renamed["metadata"]["lane"]["hosts"]
    hosts["laptop"] = hosts.pop("clienthost")
    assert "hosts_lane.client.host" in _incomparable(doc, renamed)
    kernel = copy.deepcopy(doc)
    kernel["metadata"]["lane"]["hosts"]["serverhost"]["kernel"] = "6.12.0"
    assert _incomparable(doc, kernel) == ["hosts_lane.server.kernel"]
    nic = copy.deepcopy(doc)
    nic["metadata"]["lane"]["hosts"]["serverhost"]["nics"]["s1"]["driver"] = "mlx5_core"
    assert _incomparable(doc, nic) == ["hosts_lane.path1.server.nic"]


def test_compare_and_gate_refuse_other_hosts_unless_forced(doc, tmp_path, capsys):
    runs = []
    for name, kernel in (("base", None), ("cand", "6.12.0")):
        d = copy.deepcopy(doc)
        if kernel:
            d["metadata"]["lane"]["hosts"]["clienthost"]["kernel"] = kernel
        (tmp_path / name).mkdir()
        (tmp_path / name / "results.json").write_text(json.dumps(d))
        runs.append(str(tmp_path / name))
    assert main(["compare", *runs]) == 2
    out = capsys.readouterr()
    assert ("INCOMPARABLE: kernel of a host, by role (hosts_lane.client.kernel): "
            "6.18.44-fc-v1300 → 6.12.0") in out.out
    assert "pass --force" in out.err
    assert main(["gate", *runs]) == 2
    assert main(["gate", *runs, "--force"]) == 0
