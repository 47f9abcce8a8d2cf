import pytest

from bench.catalog import Catalog
from bench.errors import InputError
from harness.net import events, middlebox


def test_strip_rules_cover_both_directions_and_families():
    rules = middlebox.strip_mptcp_rules((0, 1))
    assert len(rules) == 2 * 2 * 2
    assert ["iptables", "-t", "mangle", "-A", "FORWARD", "-i", "rs1", "-p", "tcp", "-j",
            "TCPOPTSTRIP", "--strip-options", "30"] in rules
    assert {r[0] for r in rules} == {"iptables", "ip6tables"}


def test_middlebox_scenario_strips_every_link_and_expects_fallback():
    s = Catalog().scenario("middlebox")
    assert s.topology().strip_mptcp_links == (0, 1)
    assert "tcpoptstrip" in s.topology().needs()
    assert s.expect.mptcp == ("fallback",)
    assert Catalog().scenario("tcp-server").trial_params("mptcp").server_protocol == "tcp"


def test_blackhole_scenarios_drop_the_clients_mptcp_syns_on_every_link():
    s = Catalog().scenario("blackhole-mpc")
    assert s.topology().syn_drops == ((0, "mp_capable"), (1, "mp_capable"))
    assert "nft-mptcp" in s.topology().needs() and "tcpoptstrip" not in s.topology().needs()
    assert s.expect.mptcp == ("fallback",)
    assert Catalog().scenario("blackhole-join").topology().syn_drops == ((0, "mp_join"), (1, "mp_join"))
    every = Catalog().scenario("blackhole-mpc-every")
    assert dict(every.topology().client_sysctls)["net.mptcp.blackhole_timeout"] == "0"


def test_the_syn_drop_ruleset_matches_client_syns_of_the_subtype_only():
    text = middlebox.syn_drop_ruleset(((1, "mp_join"),))
    rule = next(line.strip() for line in text.splitlines() if "drop" in line)
    assert rule == ('iifname "rc1" tcp flags & (syn | ack) == syn '
                    "tcp option mptcp subtype 1 counter drop")
    assert "table inet mpb_middlebox" in text and "hook forward" in text


@pytest.mark.parametrize("table, fragment", [
    ('events = [{ at_s = 1, link = 0, action = "rate" }]', "a rate event needs rate_mbit"),
    ('events = [{ at_s = 1, link = 0, action = "down", rate_mbit = 3 }]', "only a rate event"),
    ('events = [{ at_s = 1, link = 2, action = "down" }]', "event on link 2"),
    ('events = [{ at_s = 1, link = 0, action = "explode" }]', "events.0.action"),
    ('middlebox = { strip_mptcp = true, links = [5] }', "middlebox on link 5"),
    ('middlebox = { drop_syn = ["mp_fastclose"] }', "middlebox.drop_syn.0"),
    ('expect = { mptcp = ["great"] }', "expect.mptcp.0"),
])
def test_bad_events_and_middleboxes(write_defs, table, fragment):
    path = write_defs(f'[scenario.x]\ndescription = "d"\nlinks = [{{}}]\n{table}\n')
    with pytest.raises(InputError, match=fragment):
        Catalog([path])


class _Clock:
    """A monotonic clock that moves only when the runner waits: the times
    events are applied at are exact, whatever the machine's load."""

    def __init__(self):
        self.now = 100.0

    def monotonic(self) -> float:
        return self.now

    def monotonic_ns(self) -> int:
        return round(self.now * 1e9)


class _Stop:
    def __init__(self, clock):
        self.clock, self.set_ = clock, False

    def wait(self, timeout: float) -> bool:
        self.clock.now += timeout
        return self.set_

    def set(self) -> None:
        self.set_ = True


def test_event_runner_applies_in_order_at_their_times_and_restores(monkeypatch):
    clock = _Clock()
    applied, restored = [], []
    monkeypatch.setattr(events, "time", clock)
    monkeypatch.setattr(events, "apply", lambda topo, ev: applied.append((ev.action, clock.now)))
    monkeypatch.setattr(events.linkctl, "restore", lambda topo, link: restored.append(link))
    evs = (events.LinkEvent(0.2, 1, "up"), events.LinkEvent(0.1, 1, "down"))
    runner = events.EventRunner(object(), evs)
    runner._stop = _Stop(clock)
    with runner:
        assert applied == []         # the clock starts when the client has connected
        runner.start()
        runner._thread.join()
    assert applied == [("down", pytest.approx(100.1)), ("up", pytest.approx(100.2))]
    assert [r["action"] for r in runner.applied] == ["down", "up"] and restored == [1]
    assert [r["at_ns"] for r in runner.applied] == [100_100_000_000, 100_200_000_000]


def test_events_not_yet_due_are_dropped_when_the_trial_ends(monkeypatch):
    applied = []
    monkeypatch.setattr(events, "apply", lambda topo, ev: applied.append(ev))
    monkeypatch.setattr(events.linkctl, "restore", lambda topo, link: None)
    with events.EventRunner(object(), (events.LinkEvent(5, 0, "down"),)) as runner:
        runner.start()
    assert applied == []


def test_an_event_that_fails_is_recorded(monkeypatch):
    def boom(topo, ev):
        raise RuntimeError("no such link")
    monkeypatch.setattr(events, "apply", boom)
    monkeypatch.setattr(events.linkctl, "restore", lambda topo, link: None)
    runner = events.EventRunner(object(), (events.LinkEvent(0, 0, "down"),))
    with runner:                  # at 0 s: applied on entering, before any worker
        pass
    assert runner.applied[0]["error"] == "no such link"


def test_a_middlebox_that_appears_mid_trial_goes_when_the_trial_ends(monkeypatch):
    calls = []
    monkeypatch.setattr(events.middlebox, "strip", lambda ns, link, on=True: calls.append((ns, link, on)))
    monkeypatch.setattr(events.linkctl, "restore", lambda topo, link: None)

    class Topo:
        def ns(self, role):
            return f"mpb-x-{role}"
    runner = events.EventRunner(Topo(), (events.LinkEvent(0.01, 1, "strip_mptcp"),))
    with runner:
        runner.start()
        runner._thread.join()
    assert calls == [("mpb-x-router", 1, True), ("mpb-x-router", 1, False)]
    assert runner.applied[0]["action"] == "strip_mptcp" and runner.applied[0]["error"] is None


def test_the_runner_drives_any_sites_links_on_their_clock():
    """What applies an event is the runner's `links` (a router host's over
    SSH): its clock and what it reports go in the record, and a path is
    put back once, told whether an event stripped it."""
    class Links:
        lead_s = 0.0

        def __init__(self):
            self.calls = []

        def now_ns(self) -> int:
            return 7

        def apply(self, ev, due_ns):
            self.calls.append(("apply", ev.action))
            if ev.action == "rate":
                raise RuntimeError("no such interface")
            return {"at_ns": 42, "at_clock": "server"}

        def restore(self, link, stripped):
            self.calls.append(("restore", link, stripped))
    links = Links()
    evs = (events.LinkEvent(0, 1, "strip_mptcp"), events.LinkEvent(0, 0, "rate", rate_mbit=5))
    with events.EventRunner(object(), evs, links=links) as runner:
        pass
    assert [(r["action"], r["at_ns"], r["error"]) for r in runner.applied] == [
        ("strip_mptcp", 42, None), ("rate", 7, "no such interface")]
    assert links.calls[2:] == [("restore", 0, False), ("restore", 1, True)]


def test_links_that_need_time_get_each_event_early_with_its_due_time(monkeypatch):
    clock = _Clock()
    monkeypatch.setattr(events, "time", clock)

    class Remote:
        lead_s = 0.5
        handed: list = []

        def now_ns(self) -> int:
            return 0

        def apply(self, ev, due_ns):
            self.handed.append((round(clock.now, 3), due_ns))

        def restore(self, link, stripped):
            pass
    links = Remote()
    runner = events.EventRunner(object(), (events.LinkEvent(2.0, 0, "down"),), links=links)
    runner._stop = _Stop(clock)
    with runner:
        runner.start()
        runner._thread.join()
    assert links.handed == [(101.5, 102_000_000_000)]
