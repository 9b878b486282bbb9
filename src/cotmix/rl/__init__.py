"""RL post-training: advantage estimators and losses, the algorithms, and the training loop."""
