"""What `make test` installs (perf, sshd, asyncssh, the _delayline build,
chromium) is required, not optional: under CI (`CI` set, as CI runners
do) a missing one fails the test, since a broken install must not make
tests vanish; elsewhere the test is skipped saying why."""
from __future__ import annotations

import os

import pytest


def on_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def require(present: bool, why: str) -> None:
    """Fail (CI) or skip (elsewhere) the calling test unless `present`;
    `why` names what is missing and what installs it."""
    if present:
        return
    if on_ci():
        pytest.fail(f"{why} (under CI a missing tool is a failure, not a skip)")
    pytest.skip(why)
