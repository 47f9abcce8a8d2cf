"""Real hosts: the same suites between machines reached over SSH
(docs/hosts.md).  inventory (input), ssh (asyncssh connections), remote (a
worker on a host, leased), install (the worker's bundle), preflight, lane
(the run's hosts, and a scenario's topology on them), run (the
orchestrator over hosts), clean (what a killed run left)."""
