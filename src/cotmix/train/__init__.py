"""The NTP stage: `losses`, `optim`, `rng`, `checkpoint` (safetensors + JSON), `phase` (counters,
records, checkpoints and summary of one training phase) and `ntp` (the pre-training loop)."""
