"""Type stub of the C extension harness._engine (sources in harness/csrc/).

Every loop returns a dict: bytes, calls, start_ns, end_ns, first_ns,
last_ns, interval_ns, intervals, error (None or {call, errno, unsupported,
detail}), plus `zc` {requests, completions, copied, enobufs} for zero-copy send
modes, `verify` {checked, mismatched, first_bad_offset} when the receiver
verifies, and for latency loops `latency_ns` (packed native uint64),
`per_flow`, `transactions` (and `accepted` {tcp, mptcp, other} on a CRR
server).

The event-loop calls (evloop_send, evloop_recv) return {"loop": the merged
result, "flows": one such result per connection, "threads": T}; the sender
shuts each connection down for writing when its sending ends.
"""

SEND_MODES: tuple[str, ...]
RECV_MODES: tuple[str, ...]
LIBURING: bool
COMPILER: str

def bulk_send(fd: int, duration_ns: int = 0, max_bytes: int = 0, bufsize: int = 131072,
              interval_ns: int = 100_000_000, mode: str = "send", seed: int = 1,
              corrupt_at: int = -1) -> dict: ...
def bulk_recv(fd: int, bufsize: int = 131072, interval_ns: int = 100_000_000,
              idle_timeout_ns: int = 10_000_000_000, mode: str = "recv",
              verify_seed: int | None = None, lowat: int = 0) -> dict: ...
def evloop_send(fds: list[int], threads: int = 1, duration_ns: int = 0, max_bytes: int = 0,
                bufsize: int = 131072, interval_ns: int = 100_000_000, mode: str = "send",
                seed: int = 1) -> dict: ...
def evloop_recv(fds: list[int], threads: int = 1, bufsize: int = 131072,
                interval_ns: int = 100_000_000, idle_timeout_ns: int = 10_000_000_000,
                mode: str = "recv", verify_seed: int | None = None, lowat: int = 0) -> dict: ...
def rr_client(fds: list[int], request: int = 1, response: int = 1, duration_ns: int = 0,
              max_transactions: int = 0, idle_timeout_ns: int = 10_000_000_000,
              interval_ns: int = 100_000_000, pace_ns: int = 0) -> dict: ...
def request_stop() -> None: ...
def rr_server(fds: list[int], request: int = 1, response: int = 1,
              idle_timeout_ns: int = 10_000_000_000, interval_ns: int = 100_000_000) -> dict: ...
def crr_client(family: int, protocol: int, bind: str, connect: str, port: int, request: int = 1,
               response: int = 1, duration_ns: int = 0, max_transactions: int = 0,
               idle_timeout_ns: int = 10_000_000_000, interval_ns: int = 100_000_000) -> dict: ...
def crr_server(listen_fd: int, request: int = 1, response: int = 1,
               idle_timeout_ns: int = 10_000_000_000, interval_ns: int = 100_000_000) -> dict: ...
def mptcp_full_info(fd: int, max_subflows: int = 16) -> dict: ...
def mptcp_subflow_data(fd: int, optname: int, max_subflows: int = 16) -> dict: ...
def setns(fd: int) -> None: ...
def set_pdeathsig(sig: int) -> None: ...
def unshare_net() -> None: ...
