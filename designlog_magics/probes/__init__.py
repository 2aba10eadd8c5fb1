"""Probes: plain functions that look at the world and return facts.

Nothing here imports IPython or widgets; the magics and the command line call these.
"""
