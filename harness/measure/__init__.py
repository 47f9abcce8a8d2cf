"""What a trial measures beside the engine: CPU (own and foreign), MIB
counters, sock_diag, profiles, latency, socket options.
"""
