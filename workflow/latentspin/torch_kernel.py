"""The heat-bath update in torch: a batch of lattices on any device (issue 6's GPU path).

The physics is the numba kernel's (:mod:`latentspin.kernels`): checkerboard sublattices updated
one at a time, cos θ relative to the local field h drawn from the heat-bath distribution
p(cos θ) ∝ exp(β|h| cos θ), the azimuth uniform, and zero-temperature sweeps that set each spin
along its field. The random numbers come from a ``torch.Generator`` on the tensors' device, so
a sample is not bitwise the numba kernel's; its statistics are (tested).

Not yet wired into the workflow: ``anneal.device`` and the GPU benchmark are issue 6's next
steps, and the speed of this path has not been measured on a GPU.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .physics import Hamiltonian, _const_vec, _cross, local_field

# below this β|h| the heat-bath distribution is uniform in cos θ to double precision
_UNIFORM_BELOW = 1e-8


def checkerboard(L: int, device=None) -> tuple[Tensor, Tensor]:
    """The two sublattices, bool (L, L): (x + y) even, and odd. Nearest neighbours of a site
    are all on the other sublattice, so a whole sublattice can be updated at once."""
    y, x = torch.meshgrid(torch.arange(L, device=device), torch.arange(L, device=device), indexing="ij")
    even = (x + y) % 2 == 0
    return even, ~even


def heat_bath_cos(beta_h: Tensor, u: Tensor) -> Tensor:
    """cos θ with density ∝ exp(β|h| cos θ) on [-1, 1], by inverting its CDF at u in [0, 1):
    cos θ = 1 + log1p(u · expm1(-2β|h|)) / (β|h|), which neither overflows nor loses precision
    at large β|h|; 2u - 1 where β|h| is negligible (a zero field or infinite temperature)."""
    small = beta_h < _UNIFORM_BELOW
    safe = torch.where(small, torch.ones_like(beta_h), beta_h)
    c = 1.0 + torch.log1p(u * torch.expm1(-2.0 * safe)) / safe
    return torch.where(small, 2.0 * u - 1.0, c).clamp(-1.0, 1.0)


def _frame(h_hat: Tensor) -> tuple[Tensor, Tensor]:
    """Two unit vectors e1, e2 (..., 3, L, L) completing h_hat to a right-handed frame; the
    helper axis is ẑ, or x̂ where h_hat is within 25° of ±ẑ, so the cross product never vanishes."""
    helper = torch.where(h_hat[..., 2:3, :, :].abs() > 0.9, _const_vec((1.0, 0.0, 0.0), h_hat),
                         _const_vec((0.0, 0.0, 1.0), h_hat))
    e1 = torch.nn.functional.normalize(_cross(helper, h_hat), dim=-3)
    return e1, _cross(h_hat, e1)


def heat_bath_draw(h: Tensor, T: float, generator: torch.Generator | None = None) -> Tensor:
    """New unit spins (..., 3, L, L) drawn from the heat bath of the fields h at temperature T:
    density ∝ exp(h·S / T) on the sphere; T = 0 gives h/|h|. A zero field draws uniformly."""
    norm = torch.linalg.vector_norm(h, dim=-3, keepdim=True)
    h_hat = torch.where(norm > 0, h / norm.clamp_min(torch.finfo(h.dtype).tiny), _const_vec((0.0, 0.0, 1.0), h))
    if T == 0:
        return h_hat
    u = torch.rand(norm.shape, generator=generator, device=h.device, dtype=h.dtype)
    phi = 2 * torch.pi * torch.rand(norm.shape, generator=generator, device=h.device, dtype=h.dtype)
    c = heat_bath_cos(norm / T, u)
    s = torch.sqrt((1.0 - c * c).clamp_min(0.0))
    e1, e2 = _frame(h_hat)
    return c * h_hat + s * (torch.cos(phi) * e1 + torch.sin(phi) * e2)


def sweep(spins: Tensor, ham: Hamiltonian, T: float, generator: torch.Generator | None = None) -> Tensor:
    """One heat-bath sweep at temperature T of spins (B, 3, L, L): the even sublattice, then the
    odd one; returns the new spins."""
    if T < 0:
        raise ValueError(f"temperature must be >= 0, got {T}")
    for mask in checkerboard(spins.shape[-1], spins.device):
        spins = torch.where(mask, heat_bath_draw(local_field(spins, ham), T, generator), spins)
    return spins


def random_spins(batch: int, L: int, generator: torch.Generator | None = None, device=None,
                 dtype=torch.float64) -> Tensor:
    """Spins drawn uniformly on the sphere: the infinite-temperature start of annealing."""
    g = torch.randn(batch, 3, L, L, generator=generator, device=device, dtype=dtype)
    return torch.nn.functional.normalize(g, dim=1)
