"""Moving bytes: the C engine's face, workers, workloads, drivers, one trial's
run.
"""
