"""Fig. 3: single-code modification, X_VAE beside X'_VAE and the energy distributions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from latentspin.core.errors import ConfigError
from latentspin.figures.inputs import need, x_in
from latentspin.figures.panels import distributions, local_energy, mark, nodal_mask, panel_label
from latentspin.figures.style import plt, show_spins

if TYPE_CHECKING:
    from latentspin.physics.hamiltonian import Hamiltonian


def figure_3(x_vae: np.ndarray, x_prime: np.ndarray, energies: Mapping[str, np.ndarray], ham: Hamiltonian,
             threshold: float, n: int = 4):
    """(b) X_VAE (top) beside X'_VAE (bottom) for the n codes with the most nodal points, the
    nodal points of X_VAE circled on both; (c) ε distributions of X_IN, X_VAE and X'_VAE."""
    local_vae, local_prime = local_energy(x_vae, ham), local_energy(x_prime, ham)
    before, after = nodal_mask(local_vae, threshold), nodal_mask(local_prime, threshold)
    order = np.argsort(-before.sum(axis=(-2, -1)), kind="stable")[: min(n, len(x_vae))]
    fig = plt.figure(figsize=(2.1 * len(order) + 4.2, 4.6), layout="constrained")
    left, right = fig.subfigures(1, 2, width_ratios=[len(order), 2.0])
    axes = left.subplots(2, len(order), squeeze=False)
    e_vae, e_prime = local_vae.mean(axis=(-2, -1)), local_prime.mean(axis=(-2, -1))
    for col, k in enumerate(order):
        show_spins(axes[0, col], x_vae[k], f"#{k}: ε = {e_vae[k]:.4f}, nodal {int(before[k].sum())}")
        mark(axes[0, col], before[k])
        show_spins(axes[1, col], x_prime[k], f"ε = {e_prime[k]:.4f}, nodal {int(after[k].sum())}")
        mark(axes[1, col], before[k], edgecolors="red", linestyle="--")
    axes[0, 0].set_ylabel("$X_{VAE}$")
    axes[1, 0].set_ylabel("$X'_{VAE}$")
    panel_label(axes[0, 0], "b")
    ax = right.subplots()
    distributions(ax, energies, "energy density ε")
    ax.set_title("100 states each (paper Fig. 3c)")
    panel_label(ax, "c")
    fig.suptitle(f"Fig. 3: single-code modification; circles: nodal points of $X_{{VAE}}$ (total "
                 f"{int(before.sum())} in {len(x_vae)} states, {int(after.sum())} left in $X'_{{VAE}}$)")
    return fig


def draw(config, *, runs, train=None, **_):
    """Fig. 3 of the workflow, from the single-code ε search and X_IN."""
    from latentspin.physics.hamiltonian import Hamiltonian

    if not train:
        raise ConfigError("figure fig3 needs --train (the training data, X_IN)")
    sc = need(runs, ("single_code", "energy"), "fig3")
    energies = {"$X_{IN}$": x_in(train, config["figures"]["x_in"])["energy"],
                "$X_{VAE}$": sc["initial_energy"], "$X'_{VAE}$": sc["final_energy"]}
    return figure_3(sc["initial_spins"], sc["final_spins"], energies, Hamiltonian.from_config(config["hamiltonian"]),
                    config["explore"]["nodal_threshold"])
