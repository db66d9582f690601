"""Seeds and keys of the workflow's random streams, all derived from the master ``seed``.

Every random stream is named: a label path under the master seed (``derive_seed``) or, for the
annealed samples, the (split, sample index) pair (``sample_keys``). A stream's numbers depend on
its name alone, never on the order jobs run in, the number of shards or threads, or the
machine. Names are hashed with crc32 (stable across Python versions, unlike ``hash()``) and
expanded by NumPy's SeedSequence.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np


def derive_seed(seed: int, *labels) -> int:
    """A seed for the random stream named by `labels` under the master seed: stable across runs,
    machines and Python versions (crc32, not hash())."""
    words = [int(seed)] + [zlib.crc32(str(label).encode()) for label in labels]
    return int(np.random.SeedSequence(words).generate_state(1, np.uint64)[0] >> np.uint64(1))


def sample_keys(seed: int, split: str, indices: Sequence[int]) -> np.ndarray:
    """The (k1, k2) uint64 keys of samples `indices` of `split`: a function of (seed, split, k)
    only, so sample k is the same whatever the number of shards, jobs or threads."""
    split_id = zlib.crc32(split.encode())  # stable across runs, unlike hash()
    keys = [np.random.SeedSequence([seed, split_id, int(k)]).generate_state(2, np.uint64) for k in indices]
    return np.array(keys, dtype=np.uint64).reshape(-1, 2)
