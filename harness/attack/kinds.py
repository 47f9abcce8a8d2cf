"""The attacks, as data: where the attacker must sit for each, and which
protocols it applies to (pure Python: scenarios validate without root)."""
from __future__ import annotations

# kind: (position, protocols)
KINDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "join_wrong_token": ("off_path", ("mptcp",)),
    "join_wrong_hmac": ("on_path", ("mptcp",)),
    "join_stolen_keys": ("on_path", ("mptcp",)),
    "add_addr_bad_hmac": ("on_path", ("mptcp",)),
    "add_addr_stolen_keys": ("on_path", ("mptcp",)),
    "remove_addr": ("on_path", ("mptcp",)),
    "fastclose_stolen_key": ("on_path", ("mptcp",)),
    "rst_in_window": ("on_path", ("tcp", "mptcp")),
    "rst_exact": ("on_path", ("tcp", "mptcp")),
    "syn_flood": ("off_path", ("tcp", "mptcp")),
    # The router itself, as a middlebox that rewrites payload (an ALG, a
    # "transparent" proxy): no attacker namespace.
    "alter_payload": ("middlebox", ("tcp", "mptcp")),
}
MIDDLEBOX = tuple(k for k, (where, _) in KINDS.items() if where == "middlebox")
# Attacks that last from their time to the trial's end, not one exchange.
SUSTAINED = ("syn_flood",)
VERDICTS = ("refused", "accepted")


def position(kinds) -> str | None:
    """Where the attacker of these attacks sits: on_path when any needs it;
    None when the router does it all (or there is no attack)."""
    where = {KINDS[k][0] for k in kinds} - {"middlebox"}
    return "on_path" if "on_path" in where else ("off_path" if where else None)
