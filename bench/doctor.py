"""`bench doctor`: what the kernel and machine offer, as a table, and
whether a suite can run here."""
from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from harness.host import kernelcache
from harness.measure import sockopts
from harness.net import capabilities
from harness.traffic import drivers

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


def kernels_table() -> Table | str:
    """The kernel cache: Debian kernels fetched for the VM lane (`--kernel debian:...`)."""
    cache = kernelcache.cache_dir()
    kernels = kernelcache.cached(cache)
    if not kernels:
        return (f"kernel cache {cache}: empty (`--kernel debian:6.1`, `debian:6.12`, "
                "`debian:unstable` or `debian:<version>` fetches one)")
    t = Table(title=f"kernel cache {cache} (python -m bench clean --kernels empties it)")
    for col in ("release", "Debian version", "suite", "fetched"):
        t.add_column(col)
    for k in kernels:
        t.add_row(k.release, k.version, k.suite, k.fetched[:10])
    return t


def options_table(matrix: dict[str, dict[str, str]]) -> Table:
    """harness.measure.sockopts' verdicts: one row per option, one column per socket."""
    t = Table(title="socket options: MPTCP against TCP on this kernel")
    t.add_column("option")
    columns = (*sockopts.ROLES, sockopts.EFFECT)
    for role in columns:
        t.add_column(role)
    for name, roles in matrix.items():
        t.add_row(name, *(_verdict_text(roles.get(role)) for role in columns))
    return t


def _verdict_text(verdict: str | None) -> Text:
    if verdict is None:
        return Text("–", "dim")
    style = ("green" if verdict == "supported" else "red" if verdict.startswith("unsupported")
             else "dim" if verdict.startswith("unavailable") else "yellow")
    return Text(verdict, style)


def options_summary(matrix: dict[str, dict[str, str]]) -> str:
    verdicts = {name: set(r.values()) for name, r in matrix.items()}
    unsupported = [n for n, v in verdicts.items() if any(x.startswith("unsupported") for x in v)]
    unavailable = [n for n, v in verdicts.items() if all(x.startswith("unavailable") for x in v)]
    supported = [n for n, v in verdicts.items() if all(x.startswith("supported") for x in v)]
    return (f"{len(supported)} of {len(matrix)} supported by MPTCP on every socket; "
            f"unsupported by MPTCP on some socket: {', '.join(unsupported) or 'none'}; "
            f"unavailable on this kernel: {', '.join(unavailable) or 'none'} "
            "(python -m bench options for the matrix)")


def run(plan, console: Console) -> None:
    """Print the table; raise CapabilityError if `plan` needs what is missing."""
    checks = capabilities.probe()
    if checks["root"].ok:
        checks["socket_options"] = capabilities.Check(
            "socket_options", None, options_summary(sockopts.matrix(sockopts.probe())))
    console.print(table(checks))
    console.print(kernels_table())
    capabilities.require(checks, plan.needs(), f"suite {plan.name!r}")
    for name in plan.drivers:       # e.g. iperf3 and mptcpize for the iperf3 driver
        drivers.get(name).check()
    console.print(f"suite {plan.name!r} can run here.")
