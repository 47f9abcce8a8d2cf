"""Topologies: addressing, links and their shaping, delay line, middlebox, path
manager, link events, capabilities.
"""
