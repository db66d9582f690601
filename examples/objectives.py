"""Objectives of your own for the latent-space searches: a worked example (docs/objectives.md).

Name one in the config under ``explore.objectives.custom`` as "module:attribute", e.g.

    explore:
      objectives:
        custom:
          sz2: {function: "examples.objectives:sz2", maximize: true, pressure: 5}
      pairs:
        genetic: [W, Mz, C, energy, sz2]

and it runs like the paper's objectives. A function takes decoded spins, a float tensor
(n, 3, L, L) of unit vectors (components x, y, z; then y, x on the lattice), and returns a finite
float tensor (n,): one value per state. Write it with torch operations only, so that single_code
and stochastic, which follow its gradient, can differentiate it; it runs on the device and in the
dtype of the spins it is given (float32 in the searches, float64 in the measurements).
"""

from torch import Tensor


def sz2(spins: Tensor) -> Tensor:
    """The mean squared out-of-plane magnetization ⟨S_z²⟩ over the lattice: 1 for a state whose
    spins all point along ±z, 0 for one lying in the plane, 1/3 for random spins. An easy-axis
    anisotropy -K Σ_r S_z(r)² lowers the energy of a state in proportion to it; maximized, it
    favours large ±z domains with narrow walls, minimized, in-plane textures."""
    return spins[:, 2].square().mean(dim=(-2, -1))
