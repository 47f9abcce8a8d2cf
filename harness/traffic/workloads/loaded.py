"""rr_under_load: the RR flow(s) alone for the first half of the duration,
then beside `load_flows` bulk flows on the same paths for the second half
(the idea of Flent's rrul).  The RR connections stay the same across both
phases, so the two latency distributions differ only by the load.
"""
from __future__ import annotations

import time

from harness.traffic import engine
from harness.traffic.workloads import bulk
from harness.traffic.workloads.common import accept, connect, emit, in_threads, listen
from harness.traffic.workloads.transactions import run_rr, serve_rr

SETTLE_S = 0.3   # bulk flows start this long before the loaded phase: queues fill first


def sender(cfg: dict) -> dict:
    half = cfg["duration_s"] / 2
    socks = [connect(cfg, cfg["port"], nodelay=True) for _ in range(cfg["flows"])]
    unloaded = run_rr(socks, cfg, half)
    loads = [connect(cfg, cfg["load_port"]) for _ in range(cfg["load_flows"])]
    bulk.notsent_lowat(loads, cfg)

    def loaded_phase():
        time.sleep(SETTLE_S)
        return run_rr(socks, cfg, half)

    *load, loaded = in_threads(*(lambda s=s: bulk.transfer(s, cfg, half + SETTLE_S) for s in loads),
                               loaded_phase)
    info = engine.introspect(socks[0])
    for s in (*socks, *loads):
        s.close()
    return {"unloaded": unloaded, "loaded": loaded, "load": load, "info": info}


def receiver(cfg: dict) -> dict:
    rr_l, load_l = listen(cfg), listen(cfg)
    emit("listening", port=rr_l.getsockname()[1], load_port=load_l.getsockname()[1])
    conns = [accept(rr_l, cfg["accept_timeout_s"]) for _ in range(cfg["flows"])]

    def load_side():
        wait = cfg["accept_timeout_s"] + cfg["duration_s"]
        loads = [accept(load_l, wait) for _ in range(cfg["load_flows"])]
        return in_threads(*(lambda c=c: bulk.receive(c, cfg) for c in loads))

    rr, load = in_threads(lambda: serve_rr(conns, cfg), load_side)
    info = engine.introspect(conns[0])
    for c in (*conns, rr_l, load_l):
        c.close()
    return {"loop": rr, "load": load, "info": info}
