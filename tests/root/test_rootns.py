"""The root namespace snapshot (rootns.py) fails loudly when a tool it
reads the firewall with fails, instead of comparing two empty texts."""
import os

import pytest
import rootns


@pytest.mark.parametrize("tool, argv", [("nft", ["nft", "list", "ruleset"]),
                                        ("iptables-save", ["iptables-save"])])
def test_a_failing_firewall_tool_fails_the_snapshot(tmp_path, monkeypatch, tool, argv):
    fake = tmp_path / tool
    fake.write_text("#!/bin/sh\necho 'no such table' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(AssertionError, match=f"{tool}.* failed \\(exit 1\\): no such table"):
        rootns._text(argv)

