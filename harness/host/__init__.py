"""The machine's primitives: namespaces, processes, kernel facts, sysctls,
MPTCP socket introspection.
"""
