"""Simulated annealing of classical Heisenberg spins by heat-bath Monte Carlo.

The annealing stage of the DAG: each sample starts from random spins, is cooled by checkerboard
heat-bath sweeps along a :class:`Schedule`, and ends with zero-temperature sweeps (a quench) that
set every spin parallel to its local field. The numba kernels live in :mod:`latentspin.kernels`;
this module holds the schedule, the random keys and the batched driver.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numba
import numpy as np

from . import kernels
from .hamiltonian import Hamiltonian

COOLING_LAWS = ("linear", "exponential")


@dataclass(frozen=True)
class Schedule:
    """Temperatures of the heat-bath sweeps, in units of J.

    The first ``(1 - hold_fraction) * sweeps`` sweeps cool from ``T_start`` to ``T_end``
    (linearly, or geometrically for ``exponential``); the rest hold ``T_end``. Then
    ``quench_sweeps`` zero-temperature sweeps follow.
    """

    T_start: float = 3.0
    T_end: float = 0.01
    sweeps: int = 2000
    cooling: str = "linear"
    hold_fraction: float = 0.05
    quench_sweeps: int = 100

    def __post_init__(self):
        if not self.T_end > 0:
            raise ValueError(f"anneal.T_end must be > 0, got {self.T_end}")
        if not self.T_start >= self.T_end:
            raise ValueError(f"anneal.T_start ({self.T_start}) must be >= anneal.T_end ({self.T_end})")
        if self.sweeps < 1:
            raise ValueError(f"anneal.sweeps must be >= 1, got {self.sweeps}")
        if self.cooling not in COOLING_LAWS:
            raise ValueError(f"anneal.cooling must be one of {COOLING_LAWS}, got {self.cooling!r}")
        if not 0 <= self.hold_fraction < 1:
            raise ValueError(f"anneal.hold_fraction must be in [0, 1), got {self.hold_fraction}")
        if self.quench_sweeps < 0:
            raise ValueError(f"anneal.quench_sweeps must be >= 0, got {self.quench_sweeps}")

    @classmethod
    def from_config(cls, anneal: dict) -> "Schedule":
        keys = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in anneal.items() if k in keys})

    def temperatures(self) -> np.ndarray:
        n_cool = max(1, round(self.sweeps * (1.0 - self.hold_fraction)))
        if self.cooling == "linear":
            cool = np.linspace(self.T_start, self.T_end, n_cool)
        else:
            cool = np.geomspace(self.T_start, self.T_end, n_cool)
        return np.concatenate([cool, np.full(self.sweeps - n_cool, self.T_end)])

    def as_dict(self) -> dict:
        return asdict(self)


def sample_keys(seed: int, split: str, indices: Sequence[int]) -> np.ndarray:
    """The (k1, k2) uint64 keys of samples `indices` of `split`: a function of (seed, split, k)
    only, so sample k is the same whatever the number of shards, jobs or threads."""
    split_id = zlib.crc32(split.encode())  # stable across runs, unlike hash()
    keys = [np.random.SeedSequence([seed, split_id, int(k)]).generate_state(2, np.uint64) for k in indices]
    return np.array(keys, dtype=np.uint64).reshape(-1, 2)


def _check_lattice(L: int):
    if L < 4 or L % 2:
        raise ValueError(f"lattice.L must be even and >= 4 for checkerboard updates, got {L}")


def set_threads(threads: int | None) -> int:
    """Numba threads for the kernels: `threads` capped at what numba started with (all cores)."""
    available = numba.config.NUMBA_NUM_THREADS
    threads = available if threads is None else max(1, min(int(threads), available))
    numba.set_num_threads(threads)
    return threads


def anneal(
    keys: np.ndarray,
    L: int,
    ham: Hamiltonian,
    schedule: Schedule,
    *,
    threads: int | None = None,
    progress: Callable[[int], object] | None = None,
) -> np.ndarray:
    """Anneal one sample per key; returns float32 spins of shape (n, 3, L, L).

    Samples run one per thread, in chunks of `threads`; `progress(k)` is called after each
    chunk with the number of samples it finished (e.g. ``tqdm.update``).
    """
    _check_lattice(L)
    keys = np.ascontiguousarray(keys, dtype=np.uint64).reshape(-1, 2)
    threads = set_threads(threads)
    betas = 1.0 / schedule.temperatures()
    dx, dy = (np.array(v, dtype=np.float64) for v in ham.dmi_vectors())
    out = np.empty((len(keys), 3, L, L), dtype=np.float32)
    for start in range(0, len(keys), threads):
        stop = min(start + threads, len(keys))
        kernels.anneal_batch(out[start:stop], keys[start:stop], betas, schedule.quench_sweeps, ham.J, dx, dy)
        if progress is not None:
            progress(stop - start)
    return out


def sweep(spins: np.ndarray, keys: np.ndarray, T: float, sweep_index: int, ham: Hamiltonian,
          *, threads: int | None = None) -> np.ndarray:
    """One heat-bath sweep at temperature T (0 for a quench) of float64 spins (n, 3, L, L),
    in place; sweep_index numbers the random stream (>= 1). Returns spins."""
    _check_lattice(spins.shape[-1])
    if spins.dtype != np.float64 or not spins.flags.c_contiguous:
        raise TypeError("sweep works in place on C-contiguous float64 spins")
    set_threads(threads)
    dx, dy = (np.array(v, dtype=np.float64) for v in ham.dmi_vectors())
    beta = np.inf if T == 0 else 1.0 / T
    kernels.sweep_batch(spins, np.ascontiguousarray(keys, dtype=np.uint64), beta, sweep_index, ham.J, dx, dy)
    return spins


def relax(spins: np.ndarray, ham: Hamiltonian, sweeps: int, *, threads: int | None = None) -> np.ndarray:
    """Zero-temperature heat-bath sweeps (each spin set along its local field) of float spins
    (n, 3, L, L): the annealing kernel's quench, to test whether a state is metastable under
    the real Hamiltonian. Returns float32 spins; the input is not modified."""
    _check_lattice(spins.shape[-1])
    work = np.array(spins, dtype=np.float64, order="C")  # a copy: the input is left alone
    set_threads(threads)
    dx, dy = (np.array(v, dtype=np.float64) for v in ham.dmi_vectors())
    kernels.quench_batch(work, sweeps, ham.J, dx, dy)
    return work.astype(np.float32)
