"""Settings of the lane tier: as in the root tier, whose settings these are
(tests/root/conftest.py), its runs are about the lanes, not the machine."""
import os

# 0.2 s of preflight sampling, and a machine shared with other jobs does not
# make every host trial disturbed (the VM lane has no limit of its own).
os.environ.setdefault("MPTCP_BENCH_PREFLIGHT_S", "0.2")
os.environ.setdefault("MPTCP_BENCH_DISTURBED_ABOVE", "200")
