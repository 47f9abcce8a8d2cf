"""What the reproducers here share: two namespaces joined by one veth
(198.18.0.1 <-> 198.18.0.2, MPTCP enabled in both), their MIB counters, and
the kernel's MPTCP tracepoints counted with perf.  Standard library only;
run as root.  Every namespace is removed by teardown()."""
import os
import shutil
import subprocess
import tempfile

NS = f"mpb-repro-{os.getpid()}"
ADDR = {"a": "198.18.0.1", "b": "198.18.0.2"}
TRACEPOINTS = ("mptcp:mptcp_sendmsg_frag", "mptcp:mptcp_subflow_get_send",
               "mptcp:subflow_check_data_avail", "mptcp:get_mapping_status",
               "mptcp:ack_update_msk")


def sh(*argv):
    subprocess.run(argv, check=True)


def ns(side):
    return ["ip", "netns", "exec", f"{NS}-{side}"]


def setup():
    for side in "ab":
        sh("ip", "netns", "add", f"{NS}-{side}")
    sh("ip", "link", "add", "va", "netns", f"{NS}-a", "type", "veth", "peer", "vb",
       "netns", f"{NS}-b")
    for side, addr in ADDR.items():
        sh(*ns(side), "ip", "addr", "add", f"{addr}/24", "dev", f"v{side}")
        sh(*ns(side), "ip", "link", "set", f"v{side}", "up")
        sh(*ns(side), "ip", "link", "set", "lo", "up")
        sh(*ns(side), "sysctl", "-qw", "net.mptcp.enabled=1")


def teardown():
    for side in "ab":
        subprocess.run(["ip", "netns", "del", f"{NS}-{side}"], stderr=subprocess.DEVNULL)


def counters(side):
    """MPTcpExt and TcpExt counters of namespace `side`."""
    text = subprocess.run([*ns(side), "cat", "/proc/net/netstat"],
                          capture_output=True, text=True, check=True).stdout.splitlines()
    out = {}
    for head, values in zip(text[::2], text[1::2]):
        prefix, *names = head.split()
        out.update({prefix[:-1] + n: int(v) for n, v in zip(names, values.split()[1:])})
    return out


def moved(before, watch):
    """Counters in `watch` that moved since `before` ({side: counters}), as text."""
    out = []
    for side in "ab":
        now = counters(side)
        for k in watch:
            d = now.get(k, 0) - before[side].get(k, 0)
            if d:
                out.append(f"{side}:{k.removeprefix('MPTcpExt').removeprefix('TcpExt')}={d}")
    return " ".join(out)


class Tracepoints:
    """perf stat of the MPTCP tracepoints, machine-wide, while the block
    runs (counting only: perf_event_open, nothing written to tracefs).
    `counts` is empty when perf or the tracepoints are missing."""

    def __enter__(self):
        self.counts, self.proc = {}, None
        perf = shutil.which("perf")
        if not perf or subprocess.run([perf, "list", "mptcp:*"], capture_output=True,
                                      text=True).stdout.count("mptcp:") == 0:
            return self
        self.out = tempfile.NamedTemporaryFile("r", suffix=".perf")
        events = ",".join(TRACEPOINTS)
        self.proc = subprocess.Popen([perf, "stat", "-x,", "-a", "-e", events, "-o", self.out.name],
                                     stderr=subprocess.DEVNULL)
        return self

    def __exit__(self, *exc):
        if self.proc is None:
            return
        self.proc.send_signal(2)
        self.proc.wait()
        for line in self.out.read().splitlines():
            cols = line.split(",")
            if len(cols) > 2 and cols[2].startswith("mptcp:") and cols[0].isdigit():
                self.counts[cols[2].removeprefix("mptcp:")] = int(cols[0])
        self.out.close()
