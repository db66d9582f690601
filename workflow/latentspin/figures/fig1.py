"""Fig. 1: the annealed samples X_IN, decoded prior samples X_VAE, and their nodal points."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from latentspin.core.errors import ConfigError
from latentspin.core.seeds import derive_seed
from latentspin.figures.inputs import x_in
from latentspin.figures.panels import energy_map, local_energy, mark, nodal_mask, panel_label
from latentspin.figures.style import colour_wheel, plt, show_spins

if TYPE_CHECKING:
    from latentspin.physics.hamiltonian import Hamiltonian


def figure_1(x_in: np.ndarray, x_vae: np.ndarray, ham: Hamiltonian, threshold: float):
    """(a) training samples X_IN; (b) decoded prior samples X_VAE with their nodal points circled;
    (c) the X_VAE with the most nodal points and its local energy density map."""
    n = len(x_in)
    local = local_energy(x_vae, ham)
    masks = nodal_mask(local, threshold)
    worst = int(np.argmax(masks.sum(axis=(-2, -1))))
    fig = plt.figure(figsize=(2.0 * n + 4.6, 4.6), layout="constrained")
    left, right = fig.subfigures(1, 2, width_ratios=[n, 2.3])
    axes = left.subplots(2, n, squeeze=False)
    energies_in = local_energy(x_in, ham).mean(axis=(-2, -1))
    for k in range(n):
        show_spins(axes[0, k], x_in[k], f"ε = {energies_in[k]:.4f}")
        show_spins(axes[1, k], x_vae[k], f"ε = {local[k].mean():.4f}, nodal {int(masks[k].sum())}")
        mark(axes[1, k], masks[k], s=30)
    axes[0, 0].set_ylabel("$X_{IN}$")
    axes[1, 0].set_ylabel("$X_{VAE}$")
    panel_label(axes[0, 0], "a")
    panel_label(axes[1, 0], "b")
    ax_s, ax_e = right.subplots(2, 1)
    show_spins(ax_s, x_vae[worst], f"$X_{{VAE}}$ #{worst}: {int(masks[worst].sum())} nodal points")
    mark(ax_s, masks[worst])
    im = energy_map(ax_e, local[worst], local[worst].min(), local[worst].max(),
                    f"local energy density, peak {local[worst].max():.2f}")
    mark(ax_e, masks[worst], edgecolors="cyan")
    right.colorbar(im, ax=ax_e, shrink=0.8)
    panel_label(ax_s, "c")
    wheel = ax_s.inset_axes([1.02, 0.0, 0.35, 0.35])
    colour_wheel(wheel)
    fig.suptitle(f"Fig. 1: annealed samples and decoded prior samples; nodal points (circled): local energy "
                 f"maxima above {threshold}")
    return fig


def draw(config, *, train=None, model=None, **_):
    """Fig. 1 of the workflow: four X_IN of the training data beside four decoded prior samples
    of `model` (the explored β)."""
    from latentspin.physics.hamiltonian import Hamiltonian
    from latentspin.vae.diagnostics import decode_prior
    from latentspin.vae.model import load_model

    if not train or not model:
        raise ConfigError("figure fig1 needs --train (the training data, X_IN) and --model")
    x_vae = decode_prior(load_model(model), 4, derive_seed(0, "figure-1")).numpy()
    return figure_1(x_in(train, 4, ("spins",))["spins"], x_vae, Hamiltonian.from_config(config["hamiltonian"]),
                    config["explore"]["nodal_threshold"])
