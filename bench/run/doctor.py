"""`bench doctor`: what the kernel and machine offer, as a table, and
whether a suite can run here."""
from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from harness import capabilities, drivers

MARK = {True: Text("yes", "green"), False: Text("no", "red"), None: Text("info", "dim")}


def table(checks: dict[str, capabilities.Check]) -> Table:
    t = Table(title="mptcp-bench doctor")
    t.add_column("capability")
    t.add_column("available")
    t.add_column("detail")
    for check in checks.values():
        fix = (f"\n{check.fix}", "dim") if check.ok is False and check.fix else ""
        detail = Text.assemble(check.detail, fix)
        t.add_row(check.name, MARK[check.ok], detail)
    return t


def run(plan, console: Console) -> None:
    """Print the table; raise CapabilityError if `plan` needs what is missing."""
    checks = capabilities.probe()
    console.print(table(checks))
    capabilities.require(checks, plan.needs(), f"suite {plan.name!r}")
    for name in plan.drivers:       # e.g. iperf3 and mptcpize for the iperf3 driver
        drivers.get(name).check()
    console.print(f"suite {plan.name!r} can run here.")
