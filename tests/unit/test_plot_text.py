"""Figure text: `$` from files stays a dollar sign, while the log axes'
tick labels (matplotlib writes them as mathtext) render as math."""
import io

import matplotlib.pyplot as plt
import pandas as pd

from bench.history import dashboard  # noqa: F401  (it once switched mathtext off globally)
from bench.report import plots


def _describe(scenario: str) -> pd.DataFrame:
    rows = [{"scenario": scenario, "driver": "native", "protocol": p, "metric": "goodput_bps",
             "median": v, "ci_low": v * 0.9, "ci_high": v * 1.1}
            for p, v in (("tcp", 10e6), ("mptcp", 10e9))]      # x1000: a log axis
    return pd.DataFrame(rows)


def test_a_dollar_in_a_scenario_name_stays_literal_and_log_ticks_are_math(monkeypatch):
    drawn = []
    monkeypatch.setattr(plots, "_png", lambda fig: drawn.append(fig) or b"png")
    assert plots.bars(_describe("cost $5 $10"), ("goodput_bps",)) == b"png"
    fig = drawn[0]
    fig.canvas.draw()
    ax = fig.axes[0]
    shown = [t._preprocess_math(t.get_text()) for t in ax.get_xticklabels()]
    assert shown == [("cost $5 $10", False)]
    assert ax.get_yscale() == "log"
    ticks = [t._preprocess_math(t.get_text()) for t in ax.get_yticklabels() if t.get_text()]
    assert ticks and all(is_math for _, is_math in ticks), ticks
    assert any("10^{" in text for text, _ in ticks)
    fig.savefig(io.BytesIO(), format="png")      # and it renders
    plt.close(fig)
