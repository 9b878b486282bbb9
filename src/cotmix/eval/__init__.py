"""Evaluation on held-out prompts: `evaluate` (the metrics) and `stats` (their intervals)."""
