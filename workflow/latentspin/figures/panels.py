"""Panels and labels that several figures share.

Each figure has a module of its own (``fig1`` ... ``fig5``, ``convergence``, ``paths``, ``levels``,
``relaxation``), whose ``figure_*`` function takes arrays, not files, and returns a matplotlib
Figure, so it can be tested on synthetic states; its ``draw`` reads the workflow's outputs. Spins
are drawn in the paper's convention (:mod:`latentspin.figures.style`): hue = in-plane angle, white =
+z, black = -z. Images are drawn with ``origin="lower"``: x to the right, y upwards, as the
lattice vectors of the objectives.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from latentspin.figures.style import PANEL_LETTER

if TYPE_CHECKING:
    from latentspin.physics.hamiltonian import Hamiltonian

# torch (through physics) is imported only by the figures that compute physics from spins
# (1, 3); the others draw what the runs measured, and their jobs do not pay for importing it.

# The paper's order and names of the objectives and algorithms, for titles and legends.
LABELS = {"energy": "ε", "W": "W", "Mz": "$M_z$", "C": "C", "C_BC": "$C_{BC}$"}


def objective_label(objective: str) -> str:
    """The objective's symbol; one not in LABELS (one of your own) is labelled by its name."""
    return LABELS.get(objective, objective)


ALGORITHM_LABELS = {"single_code": "single-code", "genetic": "genetic", "stochastic": "stochastic"}
NODAL_STYLE = dict(s=70, facecolors="none", edgecolors="red", linewidths=1.2)


def panel_label(ax, letter: str):
    ax.text(-0.08, 1.04, letter, transform=ax.transAxes, fontsize=PANEL_LETTER, fontweight="bold", va="bottom",
            ha="right")


def local_energy(spins: np.ndarray, ham: Hamiltonian) -> np.ndarray:
    """Local energy density maps (..., L, L) of spins (..., 3, L, L)."""
    import torch

    from latentspin.physics import observables

    return observables.local_energy_density(torch.from_numpy(np.asarray(spins, dtype=np.float64)), ham).numpy()


def nodal_mask(local: np.ndarray, threshold: float) -> np.ndarray:
    """Where the nodal points are, bool (..., L, L), given the local energy density maps
    (:func:`local_energy`), which the figures also draw and average."""
    import torch

    from latentspin.physics import observables

    return observables.nodal_point_mask(torch.from_numpy(local), threshold).numpy()


def mark(ax, mask: np.ndarray, **style):
    """Circle the sites where mask (L, L) is true."""
    ys, xs = np.nonzero(mask)
    ax.scatter(xs, ys, **(NODAL_STYLE | style))


def energy_map(ax, local: np.ndarray, vmin: float, vmax: float, title: str | None = None):
    im = ax.imshow(local, origin="lower", cmap="magma", vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    return im


def distributions(ax, samples: Mapping[str, np.ndarray], xlabel: str, discrete: bool = False, bins: int = 30):
    """Overlaid normalized histograms of each labelled sample, on common bins; the mean of each
    is marked by a vertical line of its colour."""
    values = np.concatenate([np.asarray(v, dtype=float) for v in samples.values()])
    if discrete:
        lo, hi = np.floor(values.min()), np.ceil(values.max())
        edges = np.arange(lo - 0.5, hi + 1.5)
    else:
        lo, hi = values.min(), values.max()
        pad = 0.05 * (hi - lo) if hi > lo else 1e-4 * max(1.0, abs(lo))
        edges = np.linspace(lo - pad, hi + pad, bins + 1)
    for k, (label, v) in enumerate(samples.items()):
        colour = f"C{k}"
        ax.hist(v, bins=edges, density=True, histtype="stepfilled", alpha=0.3, color=colour, label=label)
        ax.hist(v, bins=edges, density=True, histtype="step", color=colour)
        ax.axvline(float(np.mean(v)), color=colour, linestyle="--", linewidth=1)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("density")
    ax.legend()


def format_value(objective: str, v: float) -> str:
    """An objective's value as the figures print it: W as an integer, ε to 5 decimals, others to 4."""
    return f"{v:+.0f}" if objective == "W" else f"{v:.5f}" if objective == "energy" else f"{v:.4f}"
