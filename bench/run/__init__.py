"""Running a suite: the plan, the orchestrator that builds topologies and runs
paired trials, the run directory, resume, progress, metadata, the VM lane
and doctor."""
