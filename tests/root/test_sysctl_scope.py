"""Which sysctls a scenario may set: only those the running kernel keeps per
network namespace, decided by asking the kernel (harness.host.sysctl.scope)."""
import os

import pytest

from harness.host import netns, sysctl


@pytest.mark.parametrize("key, scope", [
    ("kernel.panic", sysctl.GLOBAL), ("vm.swappiness", sysctl.GLOBAL),
    ("fs.file-max", sysctl.GLOBAL), ("net.mptcp.enabled", sysctl.PER_NETNS),
    ("net.ipv4.tcp_rmem", sysctl.PER_NETNS), ("net.ipv4.ip_forward", sysctl.PER_NETNS),
    ("net.mptcp.no_such_knob", sysctl.MISSING), ("net.ipv4", sysctl.MISSING),   # a directory
    ("../etc/passwd", sysctl.MISSING),
])
def test_the_kernel_says_where_a_sysctl_lives(key, scope):
    assert sysctl.scope(key) == scope


def test_a_key_missing_from_new_namespaces_is_the_root_namespaces_own(tmp_path):
    """Whatever the kernel version: a key a new namespace does not show is
    ROOT_ONLY, one it shows as another entry is PER_NETNS."""
    name = f"{netns.PREFIX}-scope-test"
    netns.create(name)
    try:
        keys = ["net.core.rmem_max", "net.ipv4.tcp_mem", "net.core.somaxconn",
                "net.core.netdev_max_backlog"]
        seen = netns.call_in(name, lambda: {k: os.path.isfile(sysctl._path(k)) for k in keys})
    finally:
        netns.destroy([name])
    for key in keys:
        assert sysctl.scope(key) == (sysctl.PER_NETNS if seen[key] else sysctl.ROOT_ONLY), key


def test_a_per_namespace_value_stays_in_its_namespace():
    name = f"{netns.PREFIX}-scope-test"
    netns.create(name)
    try:
        root = sysctl._read_all(["net.core.somaxconn"])["net.core.somaxconn"]
        sysctl.write(name, {"net.core.somaxconn": int(root) + 7})
        assert sysctl.read(name, ["net.core.somaxconn"]) == {
            "net.core.somaxconn": str(int(root) + 7)}
        assert sysctl._read_all(["net.core.somaxconn"])["net.core.somaxconn"] == root
    finally:
        netns.destroy([name])


@pytest.mark.parametrize("key", ["kernel.panic", "vm.swappiness", "net.ipv4.tcp_mem"])
def test_writing_a_host_sysctl_is_refused_even_inside_the_harness(key):
    with pytest.raises(sysctl.HostSysctlError, match=key):
        sysctl.write(f"{netns.PREFIX}-never-made", {key: 1})
