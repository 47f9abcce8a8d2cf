"""harness._delayline: the host delay line's loop (harness/csrc/delayline/delayline.c)."""

Queue = tuple[int, int, int, bool, list[int] | None]   # num, delay_ns, jitter_ns, reorder, table


def run(queues: list[Queue], rcvbuf: int = ..., maxlen: int = ..., seed: int = ...) -> None:
    """Bind the NFQUEUE queues, write {"event": "ready"} to stdout, then
    release each packet when due until SIGTERM or SIGINT; on SIGUSR1 write
    one JSON line of cumulative counters.  OSError when binding or the
    netlink socket fails."""
