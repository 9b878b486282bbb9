"""Experiments built from the stages: `run` (NTP, RL and the NTP-only arm), `studies` (one built-in sweep
per result of the paper), `grid` and `runner` (sweeps, on Ray), `results` (the table) and `report/`."""
