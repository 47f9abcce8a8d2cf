"""`run -v` says what a run creates and removes, and it removes what it says
it created."""
import re

from clirun import bench

LOSSY = ('[scenario.v]\ndescription = "d"\nlinks = [{ rate_mbit = 20, loss_pct = 1 }]\n'
         'workload = { duration_s = 0.3 }\nprotocols = ["tcp"]\n')


def test_verbose_logs_every_namespace_made_and_removed(tmp_path, write_defs, root_ns_unchanged):
    proc = bench("run", "-v", "--scenario-file", write_defs(LOSSY), "--scenario", "v",
                 "--repeat", "1", "--warmup", "0", "--out", tmp_path)
    assert proc.returncode == 0, proc.stderr
    made = re.findall(r"harness\.host\.netns: created namespace (\S+)", proc.stderr)
    removed = re.findall(r"harness\.host\.netns: removed namespace (\S+)", proc.stderr)
    assert len(made) >= 3 and sorted(made) == sorted(removed)
    for fragment in ("created veth c0 <-> rc0", "added qdisc tbf 20 Mbit/s",
                     "added nftables loss rules", "MPTCP path manager in",
                     "set sysctls in", "started sender, pid", "started receiver, pid"):
        assert fragment in proc.stderr, fragment


def test_without_verbose_there_is_no_log(tmp_path, write_defs):
    proc = bench("run", "--scenario-file", write_defs(LOSSY), "--scenario", "v",
                 "--repeat", "1", "--warmup", "0", "--out", tmp_path)
    assert proc.returncode == 0 and "harness." not in proc.stderr, proc.stderr
