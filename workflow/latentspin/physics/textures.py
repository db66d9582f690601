"""Exact analytic spin textures: test references and initial states.

All textures have shape (3, L, L) with axes (component, y, x), unit spins, and use the conventions
of `latentspin.physics`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from latentspin.physics.hamiltonian import Hamiltonian
from latentspin.physics.observables import energy_density


def rotate_about_z(spins: Tensor, angle: float | Tensor) -> Tensor:
    """Rotate every spin by `angle` (radians, counter-clockwise) about ẑ.

    A rotation by +π/2 maps a Bloch state to the Néel state of identical ε, W, Mz and C.
    """
    angle = torch.as_tensor(angle, dtype=spins.dtype, device=spins.device)
    c, s = torch.cos(angle), torch.sin(angle)
    sx, sy, sz = spins[..., 0, :, :], spins[..., 1, :, :], spins[..., 2, :, :]
    return torch.stack((c * sx - s * sy, s * sx + c * sy, sz), dim=-3)


def spiral(L: int, n: int, m: int, ham: Hamiltonian, dtype: torch.dtype = torch.float64) -> Tensor:
    """Planar spiral S(r) = cos(q·r) ê1 + sin(q·r) ê2 with q = 2π(n, m)/L.

    Its energy density equals `hamiltonian.spiral_energy_density(q)` exactly, for any (n, m): a bond
    along r̂ contributes -J cos(q_r̂) - sin(q_r̂) D_r̂·n̂, with n̂ = ê1 × ê2 the rotation-plane
    normal, so the DMI term is minimal for n̂ = sign(D)(sin qx, sin qy, 0)/|…| (Bloch). On a
    lattice this differs from q̂ unless q lies on an axis or a diagonal. Then ê1 = ẑ and
    ê2 = n̂ × ẑ, so that ê1 × ê2 = n̂. The Néel spiral is the Bloch one turned by +90° about z.
    If sin qx = sin qy = 0 (every component of q is 0 or π) the DMI term vanishes for any plane
    and n̂ is taken along (n, m), or x̂ for q = 0 (then the state is the ferromagnet along ẑ).
    """
    # sin(2πn/L) is exactly zero iff 2n ≡ 0 mod L; snap it so that the fallback is reachable.
    sin_qx = 0.0 if (2 * n) % L == 0 else math.sin(2 * math.pi * n / L)
    sin_qy = 0.0 if (2 * m) % L == 0 else math.sin(2 * math.pi * m / L)
    norm = math.hypot(sin_qx, sin_qy)
    if norm > 0.0:
        sign = -1.0 if ham.D < 0 else 1.0
        nx, ny = sign * sin_qx / norm, sign * sin_qy / norm
    elif (n, m) != (0, 0):
        nx, ny = n / math.hypot(n, m), m / math.hypot(n, m)
    else:
        nx, ny = 1.0, 0.0

    # Integer phase (n x + m y) mod L keeps q·r exact for large lattices.
    coord = torch.arange(L)
    y, x = torch.meshgrid(coord, coord, indexing="ij")
    phase = 2 * math.pi * ((n * x + m * y) % L).to(torch.float64) / L
    c, s = torch.cos(phase), torch.sin(phase)
    e2 = (ny, -nx, 0.0)  # n̂ × ẑ
    spins = torch.stack((s * e2[0], s * e2[1], c), dim=0)
    if ham.dmi == "neel":
        spins = rotate_about_z(spins, math.pi / 2)
    return spins.to(dtype)


def skyrmion(
    L: int,
    radius: float,
    ham: Hamiltonian | None = None,
    core: int = -1,
    vorticity: int = 1,
    helicity: float | None = None,
    center: tuple[float, float] | None = None,
    dtype: torch.dtype = torch.float64,
    width: float | None = None,
) -> Tensor:
    """Isolated skyrmion with core along `core`·ẑ in a background along -`core`·ẑ.

    m = (sin θ cos φ, sin θ sin φ, ±cos θ) with φ = vorticity·α + helicity, α the polar angle
    around `center` = (x, y) (default (L/2, L/2)), using minimum-image distances so the texture
    is periodic-consistent. The profile θ(r) = 2 atan(sinh(R/w) / sinh(r/w)) is the standard
    domain-wall ansatz: θ = π exactly at the core, π/2 at r = R = `radius`, and decaying as
    e^{-r/w} (w = `width`, default max(1, R/2)), so keep R + several w well inside L/2.

    With the sign convention of `physics.topological_index`, W = core·vorticity: a core -z
    skyrmion (vorticity +1) in a +z background has W = -1. Default helicity: 0 without `ham`;
    with `ham`, of the two helicities its DMI type allows (Bloch ±π/2, Néel 0 or π) the one of
    lower lattice energy, so the default is the DMI-favoured skyrmion for either sign of D and
    either core (for D > 0 and core -1: π/2 for Bloch, π for Néel).
    """
    if core not in (-1, 1):
        raise ValueError(f"core must be -1 or +1, got {core!r}")
    w = max(1.0, radius / 2) if width is None else float(width)
    cx, cy = (L / 2, L / 2) if center is None else center

    coord = torch.arange(L, dtype=torch.float64)
    y, x = torch.meshgrid(coord, coord, indexing="ij")
    dx = torch.remainder(x - cx + L / 2, L) - L / 2
    dy = torch.remainder(y - cy + L / 2, L) - L / 2
    r = torch.hypot(dx, dy)
    alpha = torch.atan2(dy, dx)
    theta = 2 * torch.atan2(torch.sinh(torch.tensor(radius / w, dtype=torch.float64)),
                            torch.sinh(r / w))

    def build(gamma: float) -> Tensor:
        phi = vorticity * alpha + gamma
        # core -1: m_z = cos θ runs from -1 at the centre to +1 outside; core +1 mirrors m_z.
        mz = -core * torch.cos(theta)
        return torch.stack((torch.sin(theta) * torch.cos(phi),
                            torch.sin(theta) * torch.sin(phi), mz), dim=0)

    if helicity is not None:
        spins = build(float(helicity))
    elif ham is None:
        spins = build(0.0)
    else:
        base = math.pi / 2 if ham.dmi == "bloch" else 0.0
        first, second = build(base), build(base + math.pi)
        spins = second if energy_density(second, ham) < energy_density(first, ham) else first
    return spins.to(dtype)
