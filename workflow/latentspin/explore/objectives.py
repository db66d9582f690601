"""Objectives of the latent-space explorers: physical quantities of decoded spins, with a
direction. Each wraps the single definition in :mod:`latentspin.physics.observables`; nothing is
recomputed here.

Every objective is batched and differentiable: ``value(spins)`` maps (B, 3, L, L) to (B,).
``cost`` is what gradient-based explorers minimize and ``fitness`` what the genetic algorithm
maximizes, so that neither needs to know the direction.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from latentspin.core.config import OBJECTIVES, ring_sites
from latentspin.physics import observables
from latentspin.physics.hamiltonian import Hamiltonian


@dataclass(frozen=True)
class Objective:
    name: str
    maximize: bool
    value: Callable[[Tensor], Tensor]
    description: str = ""
    arrays: Mapping[str, Tensor] = field(default_factory=dict)  # the objective's own data, e.g. S_BC, stored with a run

    def cost(self, spins: Tensor) -> Tensor:
        """Lower is better."""
        v = self.value(spins)
        return -v if self.maximize else v

    def fitness(self, spins: Tensor) -> Tensor:
        """Higher is better."""
        return -self.cost(spins)


def boundary_map(L: int, radius: float, width: float, direction: Sequence[float] | str = (0.0, 0.0, 1.0),
                 dtype=torch.float32) -> Tensor:
    """S_BC (3, L, L) of paper Fig. 5e: non-zero only on a ring of the given radius and width (in
    sites) centred on the lattice, with unit spins along `direction` (a 3-vector, or "radial" /
    "tangential" in-plane) and zero elsewhere."""
    if not 0 < radius < L / 2:
        raise ValueError(f"boundary radius must be in (0, L/2 = {L / 2}), got {radius}")
    if width <= 0:
        raise ValueError(f"boundary width must be > 0, got {width}")
    sites = list(ring_sites(L, radius, width))
    if not sites:
        raise ValueError(f"boundary width {width} leaves the ring of radius {radius} without a lattice site")
    ring = torch.zeros(L, L, dtype=torch.bool)
    ring[tuple(torch.tensor(sites).T)] = True
    c = (L - 1) / 2
    y, x = torch.meshgrid(torch.arange(L, dtype=torch.float64) - c, torch.arange(L, dtype=torch.float64) - c,
                          indexing="ij")
    if isinstance(direction, str):
        if direction not in ("radial", "tangential"):
            raise ValueError(f"boundary direction must be a 3-vector, 'radial' or 'tangential', got {direction!r}")
        phi = torch.atan2(y, x) + (math.pi / 2 if direction == "tangential" else 0.0)
        field = torch.stack([torch.cos(phi), torch.sin(phi), torch.zeros_like(phi)])
    else:
        d = torch.tensor([float(v) for v in direction], dtype=torch.float64)
        if d.shape != (3,) or d.norm() == 0:
            raise ValueError(f"boundary direction must be a non-zero 3-vector, got {list(direction)}")
        field = (d / d.norm()).view(3, 1, 1).expand(3, L, L)
    return (field * ring).to(dtype)


def build(name: str, L: int, ham: Hamiltonian, settings: Mapping | None = None) -> Objective:
    """The objective called `name` (one of OBJECTIVES); settings is config explore.objectives:
    ``C: {a}`` and ``C_BC: {boundary: {radius (fraction of L), width (sites), direction}}``."""
    settings = settings or {}
    if name == "energy":
        return Objective("energy", False, lambda s: observables.energy_density(s, ham), "energy density ε (minimize)")
    if name == "W":
        return Objective("W", True, observables.topological_index, "topological index W (maximize)")
    if name == "Mz":
        return Objective("Mz", True, observables.magnetization_z, "magnetization Mz (maximize)")
    if name == "C":
        a = tuple(int(v) for v in settings["C"]["a"])
        return Objective("C", True, lambda s: observables.correlation(s, a), f"correlation C(a), a = {a} (maximize)")
    if name == "C_BC":
        b = settings["C_BC"]["boundary"]
        s_bc = boundary_map(L, b["radius"] * L, b["width"], b["direction"])
        cache: dict = {}

        def value(s: Tensor) -> Tensor:
            key = (s.device, s.dtype)
            if key not in cache:
                cache[key] = s_bc.to(device=s.device, dtype=s.dtype)
            return observables.boundary_correlation(s, cache[key])

        return Objective("C_BC", True, value, "correlation with the boundary map S_BC (maximize)",
                         {"boundary_map": s_bc})
    raise ValueError(f"unknown objective {name!r}; expected one of {OBJECTIVES}")
