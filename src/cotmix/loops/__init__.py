"""The two training loops, side by side: NTP (`pretrain.py`: pre-training, and the NTP-only arm
that continues it) and RL (`posttrain.py`). Each runs one phase of a run directory that its caller
has prepared (cotmix.rundir), on the task its caller built, and returns the phase's summary entry.
"""
