"""Physical quantities of a 2D chiral Heisenberg magnet, defined once for every stage.

Conventions (docs/method.md, "Conventions"):

* Spins are tensors of shape ``(..., 3, L, L)`` with axes ``(component, y, x)``; x is the last
  axis and any number of leading batch axes is allowed. Boundaries are periodic.
* Each nearest-neighbour bond is counted once, from site r to r + x̂ and from r to r + ŷ.
* H = -J Σ S_i·S_j - Σ D_ij·(S_i × S_j) - B Σ S_z,i, with D_ij = D r̂ (Bloch) or D ẑ×r̂ (Néel)
  and B a uniform field along +z (0, the paper's system, by default).

Every function is a pure, batched torch function: it computes in the dtype and on the device of
its input, and those that return continuous values are differentiable with autograd, because the
latent-space optimizers need gradients of the same quantities the data stage records.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

# The model (and its spirals) is plain arithmetic, in a module of its own so that stages that need
# no tensors (the Monte Carlo kernels, summaries, the claims) do not import torch.
from latentspin.physics.hamiltonian import Hamiltonian, Vec3
from latentspin.physics.lattice import periodic_pad

# --------------------------------------------------------------------------------------------
# small helpers


def _at_least_float32(v: Tensor) -> Tensor:
    # bfloat16 / float16 squares would lose the unit length to their 8- or 11-bit mantissa
    # (F.normalize under autocast computes in float32 too)
    return v.float() if v.dtype in (torch.bfloat16, torch.float16) else v


def unit_vectors(v: Tensor, dim: int = -3, eps: float = 1e-12) -> Tensor:
    """v / max(|v|, eps) along `dim`: torch.nn.functional.normalize's result (equal to float
    rounding), computed as v · rsqrt(Σ v²), which on the CPU is much faster with its gradient than
    normalize's strided norm for (B, 3, L, L) fields (docs/benchmarks.md). Half-precision input is
    normalized, and returned, in float32."""
    v = _at_least_float32(v)
    return v * torch.rsqrt((v * v).sum(dim=dim, keepdim=True).clamp_min(eps * eps))


def vector_lengths(v: Tensor, dim: int = -3) -> Tensor:
    """|v| along `dim` (the dimension removed), at least in float32; see :func:`unit_vectors`
    for why not v.norm."""
    v = _at_least_float32(v)
    return (v * v).sum(dim=dim).sqrt()


def _shift(spins: Tensor, dx: int, dy: int) -> Tensor:
    """Field whose value at r is the input at r + (dx, dy), periodic."""
    return torch.roll(spins, shifts=(-dy, -dx), dims=(-2, -1))


def _dot(a: Tensor, b: Tensor) -> Tensor:
    return (a * b).sum(dim=-3)


def _const_vec(v: Vec3, like: Tensor) -> Tensor:
    """A constant 3-vector shaped (3, 1, 1) to broadcast against a (..., 3, L, L) field."""
    return torch.tensor(v, dtype=like.dtype, device=like.device).view(3, 1, 1)


def _cross(a: Tensor, b: Tensor) -> Tensor:
    """Cross product over the component axis, broadcasting. Written out by components: with its
    gradient, torch.linalg.cross over this (non-last) axis is much slower on the CPU
    (docs/benchmarks.md)."""
    ax, ay, az = a.unbind(dim=-3)
    bx, by, bz = b.unbind(dim=-3)
    return torch.stack([ay * bz - az * by, az * bx - ax * bz, ax * by - ay * bx], dim=-3)


def _dot_cross(d: Vec3, a: Tensor, b: Tensor) -> Tensor:
    """d·(a × b) for a constant vector d, (..., L, L): only the components of a × b that d weighs
    are computed (one of three for the DMI vectors)."""
    ax, ay, az = a.unbind(dim=-3)
    bx, by, bz = b.unbind(dim=-3)
    components = ((ay, bz, az, by), (az, bx, ax, bz), (ax, by, ay, bx))
    out = torch.zeros_like(ax * bx)
    for d_k, (p, q, r, s) in zip(d, components):
        if d_k:
            out = out + d_k * (p * q - r * s)
    return out


def _site_mean(field: Tensor) -> Tensor:
    return field.mean(dim=(-2, -1))


# --------------------------------------------------------------------------------------------
# energy


def bond_energies(spins: Tensor, ham: Hamiltonian) -> tuple[Tensor, Tensor]:
    """Energies (..., L, L) of the bonds (r, r + x̂) and (r, r + ŷ), indexed by r.

    e_r̂(r) = -J S_r·S_{r+r̂} - D_r̂·(S_r × S_{r+r̂}).
    """
    d_x, d_y = ham.dmi_vectors()
    out = []
    for (dx, dy), d in (((1, 0), d_x), ((0, 1), d_y)):
        nb = _shift(spins, dx, dy)
        out.append(-ham.J * _dot(spins, nb) - _dot_cross(d, spins, nb))
    return out[0], out[1]


def zeeman_energies(spins: Tensor, ham: Hamiltonian) -> Tensor:
    """Zeeman energy of each site, -B S_z, shape (..., L, L)."""
    return -ham.B * spins[..., 2, :, :]


def local_energy_density(spins: Tensor, ham: Hamiltonian) -> Tensor:
    """Energy map (..., L, L): each bond's energy split half to each of its two sites, and each
    site's Zeeman energy -B S_z to itself.

    This is the map of paper Fig. 1c; it sums over sites to H. With the local field h_i of the
    couplings alone (:func:`local_field` at B = 0) it equals -S_i·h_i / 2 - B S_z,i.
    """
    e_x, e_y = bond_energies(spins, ham)
    # Bond e_x(r) also belongs to site r + x̂: rolling by +1 brings it there.
    from_left = torch.roll(e_x, shifts=1, dims=-1)
    from_below = torch.roll(e_y, shifts=1, dims=-2)
    local = 0.5 * (e_x + from_left + e_y + from_below)
    return local + zeeman_energies(spins, ham) if ham.B != 0 else local  # B = 0: bitwise the field-free map


def nodal_point_mask(local_energy: Tensor, threshold: float) -> Tensor:
    """Where the nodal points are (bool, same shape as the maps (..., L, L)): local maxima over
    the periodic 3×3 neighbourhood whose value exceeds `threshold` (paper Fig. 1c: the nodal
    points of decoded states are peaks of the local energy density, far above the data's)."""
    flat = local_energy.reshape(-1, 1, *local_energy.shape[-2:])
    neighbourhood_max = torch.nn.functional.max_pool2d(periodic_pad(flat, 1), 3, stride=1)
    return ((flat >= neighbourhood_max) & (flat > threshold)).reshape(local_energy.shape)


def nodal_points(local_energy: Tensor, threshold: float) -> Tensor:
    """Number of nodal points (...,) in local energy density maps (..., L, L); see
    :func:`nodal_point_mask`."""
    return nodal_point_mask(local_energy, threshold).sum(dim=(-2, -1))


def energy_density(spins: Tensor, ham: Hamiltonian) -> Tensor:
    """ε = H / N with N = L² sites (two bonds per site, and each site's Zeeman energy); shape (...)."""
    e_x, e_y = bond_energies(spins, ham)
    site = e_x + e_y
    return _site_mean(site + zeeman_energies(spins, ham) if ham.B != 0 else site)


def local_field(spins: Tensor, ham: Hamiltonian) -> Tensor:
    """Effective field h_i = -∂H/∂S_i, shape (..., 3, L, L).

    h_i = Σ_r̂ [J (S_{i+r̂} + S_{i-r̂}) + D_r̂ × (S_{i-r̂} - S_{i+r̂})] + B ẑ.
    Derivation: S_i enters the bond (i, i+r̂) as -D·(S_i × S_+) = -S_i·(S_+ × D), and the bond
    (i-r̂, i) as -D·(S_- × S_i) = -S_i·(D × S_-); the Zeeman term as -S_i·B ẑ. H is linear in
    each spin (no self-bonds for L ≥ 2), so changing S_i alone changes H by exactly -h_i·ΔS_i —
    the heat-bath kernel relies on this: the field only adds to the local field.
    """
    d_x, d_y = ham.dmi_vectors()
    h = torch.zeros_like(spins)
    for (dx, dy), d in (((1, 0), d_x), ((0, 1), d_y)):
        plus = _shift(spins, dx, dy)
        minus = _shift(spins, -dx, -dy)
        h = h + ham.J * (plus + minus) + _cross(_const_vec(d, spins), minus - plus)
    if ham.B != 0:
        h = h + _const_vec((0.0, 0.0, float(ham.B)), spins)
    return h


# --------------------------------------------------------------------------------------------
# structural quantities


def topological_index(spins: Tensor) -> Tensor:
    """Lattice topological index W (Berg–Lüscher), shape (...).

    Every plaquette is split into the triangles (x,y)→(x+1,y)→(x+1,y+1) and
    (x,y)→(x+1,y+1)→(x,y+1); each contributes its signed solid angle
    Ω = 2 atan2(s1·(s2×s3), 1 + s1·s2 + s2·s3 + s3·s1), and W = ΣΩ / 4π. On a periodic lattice W
    is an integer for every configuration off the measure-zero set where a triangle spans a
    great circle (e.g. antiparallel neighbours, as in a q = π spiral, where W is meaningless);
    it converges to (1/4π)∫ m·(∂x m × ∂y m) dx dy with x, y right-handed.

    Sign, verified in tests: a skyrmion with core -z in a +z background and vorticity +1 has
    W = -1 (core +z in -z: W = +1), whatever its helicity. The paper's Fig. 4d appears to count
    the Mz-maximizing skyrmions as positive, i.e. the opposite orientation; we keep this sign.

    Spins are normalized first: W depends only on directions, and this keeps it an integer for
    decoder outputs that are not exactly unit vectors (for unit input it changes nothing).
    """
    s = unit_vectors(spins)
    s1, s2, s3, s4 = s, _shift(s, 1, 0), _shift(s, 1, 1), _shift(s, 0, 1)

    def solid_angle(a: Tensor, b: Tensor, c: Tensor) -> Tensor:
        numerator = _dot(a, _cross(b, c))
        denominator = 1.0 + _dot(a, b) + _dot(b, c) + _dot(c, a)
        return 2.0 * torch.atan2(numerator, denominator)

    omega = solid_angle(s1, s2, s3) + solid_angle(s1, s3, s4)
    return omega.sum(dim=(-2, -1)) / (4.0 * math.pi)


def magnetization_z(spins: Tensor) -> Tensor:
    """Mz = mean S_z, shape (...)."""
    return _site_mean(spins[..., 2, :, :])


def correlation(spins: Tensor, a: tuple[int, int]) -> Tensor:
    """C(a) = mean over sites of S(r)·S(r + a), a = (a_x, a_y) in lattice units, periodic."""
    a_x, a_y = a
    return _site_mean(_dot(spins, _shift(spins, int(a_x), int(a_y))))


def boundary_correlation(spins: Tensor, s_bc: Tensor) -> Tensor:
    """C_BC = mean over all N sites of S_BC(r)·S(r), shape (...).

    s_bc has shape (3, L, L) and broadcasts over the batch; it may vanish off a narrow ring
    (paper Fig. 5e), in which case C_BC is still normalized by N, not by the ring's size.
    """
    s_bc = torch.as_tensor(s_bc, dtype=spins.dtype, device=spins.device)
    return _site_mean(_dot(s_bc, spins))


# --------------------------------------------------------------------------------------------
# Fourier diagnostics


def structure_factor(spins: Tensor) -> Tensor:
    """S(k) = Σ_α |FFT2(S_α)|² / N, shape (..., L, L) in torch.fft's (ky, kx) layout."""
    n_sites = spins.shape[-1] * spins.shape[-2]
    f = torch.fft.fft2(spins, dim=(-2, -1))
    return (f.real**2 + f.imag**2).sum(dim=-3) / n_sites


def dominant_wavelength(spins: Tensor) -> Tensor:
    """Dominant period in lattice sites, shape (...).

    S(k) is averaged over shells of |k| of width 2π/L (k = 0 excluded) and the shell of largest
    mean is taken; the returned value is 2π/|k| with |k| the S(k)-weighted mean within that
    shell, so that a spiral of wave vector 2π(n, m)/L gives exactly L/√(n² + m²) rather than the
    shell's nominal centre. A uniform state has no power at k ≠ 0 and gives inf. Assumes a
    square lattice; not meant for gradients (the shell choice is an argmax).
    """
    L = spins.shape[-1]
    s_k = structure_factor(spins).flatten(start_dim=-2)
    freq = torch.fft.fftfreq(L, d=1.0 / L, dtype=s_k.dtype, device=s_k.device)  # integers
    ky, kx = torch.meshgrid(freq, freq, indexing="ij")
    k_int = torch.sqrt(kx**2 + ky**2).flatten()  # |k| in units of 2π/L
    shell = torch.round(k_int).long()
    n_shells = int(shell.max()) + 1

    def shell_sum(values: Tensor) -> Tensor:
        out = values.new_zeros(values.shape[:-1] + (n_shells,))
        return out.index_add(-1, shell, values)

    counts = shell_sum(torch.ones_like(k_int))
    mean_power = shell_sum(s_k) / counts
    # Shell 0 (k = 0) is the net magnetization, not a period: search from shell 1.
    best = mean_power[..., 1:].argmax(dim=-1, keepdim=True) + 1

    in_best = (shell == best).to(s_k.dtype)  # (..., L²)
    weight = s_k * in_best
    k_mean = (weight * k_int).sum(-1) / weight.sum(-1).clamp_min(torch.finfo(s_k.dtype).tiny)
    return L / k_mean


@torch.no_grad()
def measure(spins: Tensor, ham: Hamiltonian, nodal_threshold: float | None = None,
            batch_size: int = 256) -> dict[str, Tensor]:
    """The per-configuration observables every stage reports, batch by batch in float64 on the
    input's device, returned on the CPU: ε, W, Mz, the peak of the local energy density and, with
    a threshold, the number of nodal points."""
    out: dict[str, list[Tensor]] = {"energy": [], "W": [], "Mz": [], "max_local_energy": []}
    if nodal_threshold is not None:
        out["nodal_points"] = []
    for start in range(0, len(spins), batch_size):
        x = spins[start : start + batch_size].double()
        local = local_energy_density(x, ham)
        out["energy"].append(local.mean(dim=(-2, -1)))
        out["W"].append(topological_index(x))
        out["Mz"].append(magnetization_z(x))
        out["max_local_energy"].append(local.amax(dim=(-2, -1)))
        if nodal_threshold is not None:
            out["nodal_points"].append(nodal_points(local, nodal_threshold))
    return {k: torch.cat(v).cpu() if v else torch.zeros(0) for k, v in out.items()}
