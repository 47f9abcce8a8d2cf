"""mptcp-bench: suites, orchestration, analysis and reports."""
