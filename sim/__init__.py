"""Simulation and evaluation, host side (issue 12 layout): scoring of steps against reference
gait events (sim/scoring.py)."""
