"""Sweeps: grids of runs (grid.py), executed in-process or on Ray (runner.py), one results table
(results.py), and the built-in studies, one per paper figure and four beyond it (studies.py)."""
