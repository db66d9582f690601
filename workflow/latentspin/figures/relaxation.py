"""Beyond the paper: the relaxation check of every final state."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from latentspin.core.errors import ConfigError
from latentspin.figures.panels import ALGORITHM_LABELS, objective_label
from latentspin.figures.style import NOTE, plt

if TYPE_CHECKING:
    pass


def relaxation_figure(metrics):
    """ε, W and Mz of each pair's final state (decoded) and after zero-temperature relaxation with
    the real Hamiltonian: a state that barely moves is a metastable state of the physics, one
    that moves far was an artefact of the decoder. `metrics` is results/explore/metrics.csv."""
    labels = [f"{ALGORITHM_LABELS[a]}\n{objective_label(o)}"
              for a, o in zip(metrics["algorithm"], metrics["objective"])]
    x = np.arange(len(labels))
    fig, axes = plt.subplots(3, 1, figsize=(max(6.0, 0.9 * len(labels) + 2), 7.5), sharex=True, layout="constrained")
    for ax, (q, name) in zip(axes, (("energy", "ε"), ("W", "W"), ("Mz", "$M_z$"))):
        final, relaxed = metrics[f"final_{q}"].to_numpy(), metrics[f"relaxed_{q}"].to_numpy()
        ax.vlines(x, np.minimum(final, relaxed), np.maximum(final, relaxed), color="grey", linewidth=1)
        ax.scatter(x, final, color="C0", label="decoded (final)", zorder=3)
        ax.scatter(x, relaxed, color="C3", marker="x", label="relaxed (T = 0 sweeps)", zorder=3)
        ax.set_ylabel(name)
    axes[0].legend()
    axes[-1].set_xticks(x, labels, fontsize=NOTE)
    fig.suptitle("relaxation check: each optimized state before and after zero-temperature heat-bath sweeps")
    return fig


def draw(config, *, metrics=None, **_):
    """The relaxation figure of the workflow, from results/explore/metrics.csv."""
    import pandas as pd

    if not metrics:
        raise ConfigError("figure relaxation needs --metrics")
    return relaxation_figure(pd.read_csv(metrics))
