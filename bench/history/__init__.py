"""Runs over time: the history store, series and their change points, the
trend dashboard and the history-aware gate (docs/history.md).

    from bench import history
    with history.open_store("reports/history") as store:
        store.runs(), store.samples()       # DataFrames: one row per run / per trial value
        for t in history.trends(store):     # every series with its change points
            print("\\n".join(t.lines()))
        history.evaluate_gate(store, analysis.open_run("reports/latest")).status   # 0 / 1 / 2
"""
import importlib

_EXPORTS = {"Store": "store", "DEFAULT_STORE": "store:DEFAULT", "STORE_FILE": "store:FILE",
            "open_store": "store:Store",
            "trends": "trend", "Trend": "trend", "write_dashboard": "dashboard:write",
            "evaluate_gate": "gate:evaluate", "detect_change_points": "changepoints:detect"}
__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'bench.history' has no attribute {name!r}")
    module, _, attr = _EXPORTS[name].partition(":")
    value = getattr(importlib.import_module(f"bench.history.{module}"), attr or name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
