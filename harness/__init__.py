"""The system side of mptcp-bench: namespaces, links, shaping, the traffic
engine, workers and measurements.

Nothing here imports pandas or matplotlib: the harness produces plain records
(dicts, dataclasses) and `bench` turns them into analysis and reports.
"""
