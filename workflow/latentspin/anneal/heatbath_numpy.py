"""A plain NumPy implementation of the heat-bath sweep: the benchmark's baseline and the test
oracle of the numba kernel.

It follows :mod:`latentspin.anneal.heatbath_numba` step for step (same counter-based random numbers, same
draw, same frame rotation) but with whole-array NumPy operations and NumPy's own log1p, expm1,
cos and sin, so the two agree to rounding for a sweep. It is written for clarity, not speed.
"""

from __future__ import annotations

import numpy as np

from latentspin.anneal import random_stream
from latentspin.physics.hamiltonian import Hamiltonian

GAMMA = np.uint64(random_stream.GAMMA)
_M1 = np.uint64(random_stream.M1)
_M2 = np.uint64(random_stream.M2)


def _mix64(z: np.ndarray) -> np.ndarray:
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def uniform_pair(k1: np.ndarray, k2: np.ndarray, counter: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The kernel's two uniforms for (key, counter), broadcast over arrays (uint64, wrapping)."""
    r = _mix64(_mix64(k1 + counter * GAMMA) ^ k2)
    return (r >> np.uint64(32)) * 2.0**-32, (r & np.uint64(0xFFFFFFFF)) * 2.0**-32


def local_field(spins: np.ndarray, ham: Hamiltonian) -> np.ndarray:
    """h = J(sum of neighbours) + D_x x (S_{x-1} - S_{x+1}) + D_y x (S_{y-1} - S_{y+1}) + B z."""
    dx, dy = (np.array(v).reshape(3, 1, 1) for v in ham.dmi_vectors())
    xp, xm = np.roll(spins, -1, axis=-1), np.roll(spins, 1, axis=-1)
    yp, ym = np.roll(spins, -1, axis=-2), np.roll(spins, 1, axis=-2)
    cross = lambda d, v: np.cross(d, v, axis=-3)  # noqa: E731
    h = ham.J * (xp + xm + yp + ym) + cross(dx, xm - xp) + cross(dy, ym - yp)
    h[..., 2, :, :] += ham.B
    return h


def draw_spins(h: np.ndarray, beta: float, u1: np.ndarray, u2: np.ndarray) -> np.ndarray:
    """Heat-bath draws for fields h (..., 3, m) at inverse temperature beta (inf: quench)."""
    norm = np.linalg.norm(h, axis=-2)
    safe = np.where(norm > 1e-300, norm, 1.0)
    nx, ny, nz = (np.where(norm > 1e-300, c / safe, z) for c, z in zip(np.moveaxis(h, -2, 0), (0.0, 0.0, 1.0)))
    if np.isinf(beta):
        return np.stack([nx, ny, nz], axis=-2)
    a = beta * norm
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.where(a > 1e-10, -np.log1p(u1 * np.expm1(-2.0 * a)) / a, 2.0 * u1)
    d = np.clip(d, 0.0, 2.0)
    sin_t, cos_t = np.sqrt(d * (2.0 - d)), 1.0 - d
    vx, vy = np.cos(2 * np.pi * u2) * sin_t, np.sin(2 * np.pi * u2) * sin_t
    sg = np.where(nz >= 0, 1.0, -1.0)
    mx, my, mz, vz = sg * nx, sg * ny, sg * nz, sg * cos_t
    proj = (mx * vx + my * vy) / (1.0 + mz)
    return np.stack([vx + mx * (vz - proj), vy + my * (vz - proj), mz * vz - (mx * vx + my * vy)], axis=-2)


def sweep(spins: np.ndarray, keys: np.ndarray, T: float, sweep_index: int, ham: Hamiltonian) -> np.ndarray:
    """One checkerboard heat-bath sweep of float64 spins (n, 3, L, L) in place; as
    :func:`latentspin.anneal.driver.sweep`."""
    L = spins.shape[-1]
    y, x = np.indices((L, L))
    beta = np.inf if T == 0 else 1.0 / T
    counter = np.uint64(sweep_index) * np.uint64(L * L) + (y * L + x).astype(np.uint64)
    k1, k2 = keys[:, :1].astype(np.uint64), keys[:, 1:].astype(np.uint64)
    for color in (0, 1):
        mask = (x + y) % 2 == color
        u1, u2 = uniform_pair(k1, k2, counter[mask][None, :])
        spins[..., mask] = draw_spins(local_field(spins, ham)[..., mask], beta, u1, u2)
    return spins
