"""An attacker beside the run's topology: a namespace of its own on the
router, off-path (it can send to the client and server) or on-path (it
also sees copies of one link's packets), which crafts the packets of the
attacks MPTCP is built to counter (docs/security.md)."""
