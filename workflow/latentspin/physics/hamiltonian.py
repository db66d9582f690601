"""The model: the chiral Heisenberg Hamiltonian's parameters and its planar spirals.

Plain arithmetic with no tensors, so that the stages that need only the model (the Monte Carlo
kernels, the dataset summaries, the claims table) do not import torch. The batched observables
(:mod:`latentspin.physics.observables`) take their model from here.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

Vec3 = tuple[float, float, float]

_DMI_TYPES = ("bloch", "neel")


@dataclass(frozen=True)
class Hamiltonian:
    """Exchange J and Dzyaloshinskii–Moriya strength D; `dmi` picks the DM vector geometry; B is a
    uniform magnetic field along +z (in units of J, with μ_s = 1: the Zeeman term -B Σ S_z).

    H = -J Σ_<ij> S_i·S_j - Σ_<ij> D_ij·(S_i × S_j) - B Σ_i S_z,i. B = 0 is the paper's system.
    """

    J: float = 1.0
    D: float = 0.3
    dmi: str = "bloch"
    B: float = 0.0

    def __post_init__(self) -> None:
        if self.dmi not in _DMI_TYPES:
            raise ValueError(f"dmi must be one of {_DMI_TYPES}, got {self.dmi!r}")
        for name in ("J", "D", "B"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
                raise ValueError(f"hamiltonian.{name} must be a finite number, got {value!r}")

    def dmi_vectors(self) -> tuple[Vec3, Vec3]:
        """(D_x, D_y): DM vectors of the bonds r → r + x̂ and r → r + ŷ.

        Bloch: D_ij = D r̂. Néel: D_ij = D ẑ × r̂, i.e. the Bloch vectors turned by +90° about z,
        which is why a global +90° spin rotation about z maps Bloch states to Néel states of
        identical energy.
        """
        D = float(self.D)
        if self.dmi == "bloch":
            return (D, 0.0, 0.0), (0.0, D, 0.0)
        return (0.0, D, 0.0), (-D, 0.0, 0.0)

    @classmethod
    def from_config(cls, mapping: Mapping[str, Any]) -> Hamiltonian:
        """Build from a config mapping; J, D, dmi and B are required so that a typo cannot fall
        back silently to a default."""
        return cls(J=float(mapping["J"]), D=float(mapping["D"]), dmi=str(mapping["dmi"]), B=float(mapping["B"]))

    @classmethod
    def from_attrs(cls, attrs: Mapping[str, Any]) -> Hamiltonian:
        """The Hamiltonian a data store records in its attributes; a store written before the field
        existed has no ``B`` and was made at B = 0."""
        return cls(J=float(attrs["J"]), D=float(attrs["D"]), dmi=str(attrs["dmi"]), B=float(attrs.get("B", 0.0)))

    def as_attrs(self) -> dict[str, Any]:
        """What a data store records of the Hamiltonian (the inverse of :meth:`from_attrs`)."""
        return {"J": float(self.J), "D": float(self.D), "dmi": self.dmi, "B": float(self.B)}

    @property
    def spiral_is_ground_state(self) -> bool:
        """Whether the best planar spiral is the ground state: at zero field. In a field the
        spirals are not (a conical state, a skyrmion lattice or the polarized state is lower), so
        nothing may be measured against :func:`lattice_ground_state` there."""
        return self.B == 0


def spiral_energy_density(qx: float, qy: float, ham: Hamiltonian) -> float:
    """ε(q) = -J(cos qx + cos qy) - |D| √(sin² qx + sin² qy) of the best planar spiral of wave
    vector q, for either DMI type (the rotation plane is chosen to make the DMI term minimal). The
    field does not enter: the plane holds z, so a commensurate spiral of q ≠ 0 has mean S_z = 0."""
    return -ham.J * (math.cos(qx) + math.cos(qy)) - abs(ham.D) * math.hypot(
        math.sin(qx), math.sin(qy)
    )


def lattice_ground_state(L: int, ham: Hamiltonian) -> tuple[int, int, float]:
    """The lattice-commensurate spiral q = 2π(n, m)/L of lowest ε(q): returns (n, m, ε), the
    ground state at zero field. In a field it is not (:attr:`Hamiltonian.spiral_is_ground_state`),
    and this raises ValueError rather than give a wrong reference.

    By the square symmetry only L//2 ≥ n ≥ m ≥ 0 is searched. Ties (to 1e-12) go to the pair
    found first scanning n then m upwards, i.e. the smaller n, then the smaller m.
    """
    if not ham.spiral_is_ground_state:
        raise ValueError(f"at B = {ham.B:g} the spiral is not the ground state; there is no lattice ground state "
                         "to compare with")
    best: tuple[int, int, float] | None = None
    for n in range(L // 2 + 1):
        for m in range(n + 1):
            eps = spiral_energy_density(2 * math.pi * n / L, 2 * math.pi * m / L, ham)
            if best is None or eps < best[2] - 1e-12:
                best = (n, m, eps)
    assert best is not None
    return best
