"""Seeded random generators, one per purpose, so that e.g. the data stream of the NTP-only arm
does not depend on how many random numbers another phase drew."""

from __future__ import annotations

import zlib

import torch


def seeded_generator(seed: int, stream: str) -> torch.Generator:
    """An independent generator per (seed, purpose), so e.g. the data stream of the baseline
    arm does not depend on how many random numbers another phase drew."""
    return torch.Generator().manual_seed(seed * 1_000_003 + zlib.crc32(stream.encode()))
