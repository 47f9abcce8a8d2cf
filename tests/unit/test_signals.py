"""The orchestrator's signal handler, as inherited by a forked child."""
import os
import signal

import pytest

from bench.run.orchestrator import Interrupted, Run


def _run():
    run = Run.__new__(Run)
    run._pid = os.getpid()
    return run


def test_in_the_orchestrator_a_signal_interrupts_and_further_ones_are_ignored():
    run = _run()
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        with pytest.raises(Interrupted) as exc:
            run._on_signal(signal.SIGTERM, None)
        assert exc.value.signum == signal.SIGTERM
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def test_a_forked_child_that_inherits_the_handler_just_exits():
    # pyroute2 forks to open a netlink socket in a namespace and SIGTERMs
    # the child: the child must not unwind the orchestrator's stack.
    run = _run()
    pid = os.fork()
    if pid == 0:
        try:
            run._on_signal(signal.SIGTERM, None)
        finally:
            os._exit(99)   # reached only if the handler returned or raised
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 128 + signal.SIGTERM
