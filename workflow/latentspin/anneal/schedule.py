"""What an annealing run is: its temperature schedule, and the lattice and sweep numbers that
every kernel accepts (one rule for the numba, torch and NumPy kernels)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

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


def check_lattice(L: int):
    if L < 4 or L % 2:
        raise ValueError(f"lattice.L must be even and >= 4 for checkerboard updates, got {L}")


def check_sweep_number(sweep: int, heat_bath: bool):
    """A heat-bath sweep draws its random numbers from counter `sweep`; counter 0 is the initial
    state's, so a heat-bath sweep numbered 0 (or below) would reuse or alias its stream."""
    if heat_bath and int(sweep) < 1:
        raise ValueError(f"a heat-bath sweep's number must be >= 1 (0 numbers the initial state's "
                         f"random stream), got {sweep}")
