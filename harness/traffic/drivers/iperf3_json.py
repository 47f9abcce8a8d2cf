"""iperf3's JSON (`-J`, with `--get-server-output`) to the raw result the
native driver returns, so bench.record.trial builds the same record from either.
Pure functions: tested on captured output (tests/data/iperf3/).

The receiver's figures come from the server's own document, which the
client carries as `server_output_json`: its bytes, its elapsed time and its
per-interval series.  iperf3's CPU figures (getrusage of its own process
over the test's wall time, so softirq work done elsewhere is missed) go to
`tool`, beside ours.
"""
from __future__ import annotations

import re

MPTCP_FLAG_SINCE = (3, 19)     # iperf3 --mptcp; older ones need mptcpize


def parse_version(text: str | None) -> tuple[int, int] | None:
    """(3, 12) from `iperf3 --version`'s first line "iperf 3.12 (cJSON …)"."""
    m = re.search(r"iperf\s+(\d+)\.(\d+)", text or "")
    return (int(m.group(1)), int(m.group(2))) if m else None


def mptcp_method(version: tuple[int, int]) -> str:
    """How this iperf3 makes MPTCP sockets: its own flag or mptcpize."""
    return "--mptcp" if version >= MPTCP_FLAG_SINCE else "mptcpize"


def _series(doc: dict | None) -> list[int]:
    return [int(i["sum"]["bytes"]) for i in (doc or {}).get("intervals", [])]


def _loop(summary: dict, intervals: list[int], interval_s: float) -> dict:
    """A summary ({bytes, seconds}) in the engine loop's shape: the span
    runs from the test's start (0) to its end."""
    return {"bytes": int(summary["bytes"]), "first_ns": 0,
            "last_ns": int(summary["seconds"] * 1e9), "interval_ns": int(interval_s * 1e9),
            "intervals": intervals, "error": None}


def _cpu_s(pct: dict, prefix: str, seconds: float) -> float | None:
    total = pct.get(f"{prefix}_total")
    return None if total is None else total / 100 * seconds


def error_of(doc: dict) -> str | None:
    """iperf3's own error message, from the client's or the server's part."""
    server = doc.get("server_output_json") or {}
    return doc.get("error") or server.get("error")


def to_raw(doc: dict, interval_s: float) -> dict:
    """The raw result of one iperf3 test.  Socket views ("info") and our
    own CPU figures are the driver's to add: iperf3 reports neither."""
    err = error_of(doc)
    if err:
        return {"sender": None, "receiver": None, "tool": {"name": "iperf3"},
                "error": {"call": "iperf3", "errno": None, "side": "sender",
                          "message": f"iperf3: {err}"}}
    end, server = doc["end"], doc.get("server_output_json")
    sent = end["sum_sent"]
    received = (server or {}).get("end", {}).get("sum_received") or end["sum_received"]
    pct = end.get("cpu_utilization_percent", {})
    tool = {
        "name": "iperf3", "version": doc.get("start", {}).get("version"),
        "cpu_utilization_percent": pct,
        "cpu_sender_s": _cpu_s(pct, "host", sent["seconds"]),
        "cpu_receiver_s": _cpu_s(pct, "remote", received["seconds"]),
        "retransmits": sent.get("retransmits"),
        "sender_bytes": int(sent["bytes"]), "receiver_bytes": int(received["bytes"]),
        "receiver_seconds": received["seconds"],
        "receiver_side": "server_output_json" if server else "client summary",
        "congestion": end.get("sender_tcp_congestion"),
    }
    return {
        # No window_ns: no CPU figure of ours covers exactly iperf3's test
        # (bench.record.trial uses trialrun's outer window instead).
        "sender": {"loop": _loop(sent, _series(doc), interval_s), "cpu_s": None,
                   "info": None, "window_ns": None},
        "receiver": {"loop": _loop(received, _series(server), interval_s), "cpu_s": None,
                     "info": None, **_flows(server or doc)},
        "tool": tool, "error": None,
    }


def _flows(doc: dict) -> dict:
    """With -P: each stream's figures as the receiver saw them (the server's
    part when iperf3 gave it), in the engine's per-flow shape."""
    streams = [s["receiver"] for s in doc.get("end", {}).get("streams", []) if "receiver" in s]
    if len(streams) < 2:
        return {}
    return {"flows": [{"bytes": int(s["bytes"]), "first_ns": int(s["start"] * 1e9),
                       "last_ns": int(s["end"] * 1e9),
                       "goodput_bps": s["bytes"] * 8 / s["seconds"] if s["seconds"] else None}
                      for s in streams]}
