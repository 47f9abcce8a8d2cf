"""Workloads: what the two ends of a trial do, by workload kind and role.
The sender runs in the client namespace and connects; the receiver runs in
the server namespace and listens (for RR, they are client and server).

Roles are named, not imported: a worker imports only the module of its own
workload, so a bulk worker never pays for numpy (the latency workloads'
histograms) in the CPU window of its trial."""
from __future__ import annotations

import importlib
from typing import Callable

ROLES = {
    ("bulk", "sender"): "bulk:sender", ("bulk", "receiver"): "bulk:receiver",
    ("rr", "sender"): "transactions:rr_sender", ("rr", "receiver"): "transactions:rr_receiver",
    ("crr", "sender"): "transactions:crr_sender", ("crr", "receiver"): "transactions:crr_receiver",
    ("rr_under_load", "sender"): "loaded:sender", ("rr_under_load", "receiver"): "loaded:receiver",
    ("hold", "sender"): "hold:sender", ("hold", "receiver"): "hold:receiver",
}
KINDS = tuple(sorted({kind for kind, _ in ROLES}))


def role(kind: str, name: str) -> Callable[[dict], dict]:
    """The function playing role `name` ("sender"/"receiver") of workload `kind`."""
    module, func = ROLES[kind, name].split(":")
    return getattr(importlib.import_module(f"harness.traffic.workloads.{module}"), func)
