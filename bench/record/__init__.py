"""What a trial record holds, built from a driver's raw result: the record
itself, workload fields, failover gaps, stalls, the link model's limit and
the per-subflow series."""
