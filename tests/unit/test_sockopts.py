"""Socket option verdicts, on probes captured from this kernel (6.18.44)."""
import json

import pytest

from bench import doctor
from bench.report import sections
from harness.measure import sockopts

OK = {"set": "ok", "errno": None, "read": 1}


def refused(err):
    return {"set": "refused", "errno": err, "read": None}


@pytest.mark.parametrize("tcp, mptcp, verdict", [
    (OK, OK, "supported"),
    (OK, refused("ENOPROTOOPT"), "unsupported by MPTCP (ENOPROTOOPT)"),
    (refused("ENOENT"), refused("ENOENT"), "unavailable on this kernel (ENOENT)"),
    (refused("ENOENT"), refused("ENOPROTOOPT"),
     "unavailable on this kernel (TCP ENOENT, MPTCP ENOPROTOOPT)"),
    (refused("EPERM"), OK, "MPTCP only (TCP EPERM)"),
    (OK, {**OK, "read": 0}, "supported, reads back 0 (TCP 1)"),
    (OK, {**OK, "after": "ECONNREFUSED"}, "accepted by MPTCP, then ECONNREFUSED"),
    ({**OK, "effect_ok": True, "read": "on 1 of 1 subflow(s)"},
     {**OK, "effect_ok": False, "read": "on 1 of 2 subflow(s)"},
     "not in effect: on 1 of 2 subflow(s) (TCP: on 1 of 1 subflow(s))"),
])
def test_verdicts(tcp, mptcp, verdict):
    assert sockopts.verdict(tcp, mptcp) == verdict


@pytest.fixture
def captured(data_dir):
    return json.loads((data_dir / "sockopts-6.18.44.json").read_text())


def test_every_listed_option_was_probed_on_its_sockets(captured):
    assert set(captured) == {o.name for o in sockopts.OPTIONS}
    for o in sockopts.OPTIONS:
        effects = ("TCP_FASTOPEN_CONNECT", "IP_TOS", "TCP_CONGESTION")
        extra = {sockopts.EFFECT} if o.name in effects else set()
        assert set(captured[o.name]) == set(o.roles) | extra


def test_what_this_kernel_said(captured):
    m = sockopts.matrix(captured)
    assert set(m["TCP_NODELAY"].values()) == {"supported"}
    # KERNEL_NOTES: setsockopt(SO_ZEROCOPY) on MPTCP -> EOPNOTSUPP; no CONFIG_TLS here.
    assert set(m["SO_ZEROCOPY"].values()) == {"unsupported by MPTCP (ENOTSUP)"}
    assert m["TCP_ULP"]["connected"].startswith("unavailable on this kernel")
    # TCP_FASTOPEN_CONNECT took effect: the listener counted data that came in a SYN.
    assert m["TCP_FASTOPEN_CONNECT"][sockopts.EFFECT] == "supported: data in the SYN"
    assert captured["TCP_FASTOPEN_CONNECT"][sockopts.EFFECT]["mptcp"]["counters"][
        "TCPFastOpenPassive"] >= 1
    # A TOS mark and a congestion control set before connect() reach both subflows.
    for name in ("IP_TOS", "TCP_CONGESTION"):
        assert m[name][sockopts.EFFECT] == "supported: on 2 of 2 subflow(s)"
    assert m["SO_BINDTODEVICE"] == {"client": "supported", "listener": "supported",
                                    "connected": "unsupported by MPTCP (EINVAL)",
                                    "accepted": "unsupported by MPTCP (EINVAL)"}


def test_summary_and_report_name_the_exceptions(captured):
    m = sockopts.matrix(captured)
    text = doctor.options_summary(m)
    assert text.startswith(f"17 of {len(m)} supported by MPTCP on every socket")
    assert "unavailable on this kernel: TCP_ULP" in text
    lines = sections.socket_options({"socket_options": m})
    assert any(line.startswith("| SO_ZEROCOPY |") for line in lines)
    assert not any(line.startswith("| TCP_NODELAY |") for line in lines)
    assert sections.socket_options({}) == []
