"""Runs over time: the history store, series and their change points, the
trend dashboard and the history-aware gate (docs/history.md)."""
