"""Real hosts: the same suites between machines reached over SSH
(docs/hosts.md).  inventory (input), ssh (asyncssh), install (the remote
worker), preflight, lane (the trial topology on hosts), run (the orchestrator
over hosts)."""
