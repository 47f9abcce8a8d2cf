"""README's exit status through the command line: 1 when a trial comes out
other than its scenario's `expect`, 0 when it comes out as expected —
the middlebox scenario's MPTCP fallback included.  One short trial per
protocol each."""
from clirun import bench, journal

from bench import results_format

SHORT = ("--repeat", 1, "--warmup", 0, "--duration", 1)


def test_the_middlebox_fallback_it_expects_exits_0(tmp_path):
    proc = bench("run", "--scenario", "middlebox", *SHORT, "--out", tmp_path)
    assert proc.returncode == 0, proc.stderr
    status = {t["protocol"]: t["status"] for t in journal((tmp_path / "latest").resolve())}
    assert status == {"tcp": "ok", "mptcp": "fallback"}


def test_a_trial_other_than_its_expect_exits_1(tmp_path, write_defs):
    """Nothing strips MPTCP on this link, so the MPTCP trial cannot be the
    fallback the scenario claims to expect."""
    defs = write_defs('[scenario.claims-fallback]\ndescription = "d"\n'
                      'links = [{ rate_mbit = 100 }]\nexpect = { mptcp = ["fallback"] }\n')
    proc = bench("run", "--scenario-file", defs, "--scenario", "claims-fallback", *SHORT,
                 "--out", tmp_path)
    assert proc.returncode == 1, proc.stderr
    doc = results_format.load_results((tmp_path / "latest").resolve() / "results.json")
    status = {t["protocol"]: t["status"] for t in doc["trials"]}
    assert status["tcp"] == "ok" and status["mptcp"] in ("ok", "stalled"), status
    assert doc["state"] == "complete"      # a benchmark failure, not a broken run
