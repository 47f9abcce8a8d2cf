"""Where a run runs besides this host: the VM lane (netem, another kernel)
and the kernel matrix across lanes (docs/vm-lane.md)."""
