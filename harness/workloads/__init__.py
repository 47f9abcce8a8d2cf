"""Workloads: what the two ends of a trial do, by workload kind and role.
The sender runs in the client namespace and connects; the receiver runs in
the server namespace and listens (for RR, they are client and server)."""
from __future__ import annotations

from harness.workloads import bulk, loaded, transactions

ROLES = {
    ("bulk", "sender"): bulk.sender, ("bulk", "receiver"): bulk.receiver,
    ("rr", "sender"): transactions.rr_sender, ("rr", "receiver"): transactions.rr_receiver,
    ("crr", "sender"): transactions.crr_sender, ("crr", "receiver"): transactions.crr_receiver,
    ("rr_under_load", "sender"): loaded.sender, ("rr_under_load", "receiver"): loaded.receiver,
}
KINDS = tuple(sorted({kind for kind, _ in ROLES}))
