"""Beyond the paper: the relaxation and stability checks of every final state."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from latentspin.core.errors import ConfigError
from latentspin.figures.panels import ALGORITHM_LABELS, objective_label
from latentspin.figures.style import NOTE, plt

if TYPE_CHECKING:
    pass


def relaxation_figure(metrics):
    """ε, W and Mz of each pair's final state (decoded), after zero-temperature relaxation with the
    real Hamiltonian, and after the stability check's thermal kick: a state that barely moves under
    both is a local minimum of the physics; one that moves under the relaxation was an artefact of
    the decoder, one that moves only under the kick a saddle. `metrics` is
    results/explore/metrics.csv (columns kicked_* and survived_kick: runs before the stability
    check have none, and are drawn without them)."""
    labels = [f"{ALGORITHM_LABELS[a]}\n{objective_label(o)}"
              for a, o in zip(metrics["algorithm"], metrics["objective"])]
    kicked = "kicked_energy" in metrics
    if kicked:
        labels = [f"{label}\n{'survived' if n == states else 'decayed' if n == 0 else f'{n} of {states} survived'}"
                  for label, n, states in zip(labels, metrics["survived_kick"], metrics["states"])]
    x = np.arange(len(labels))
    fig, axes = plt.subplots(3, 1, figsize=(max(6.0, 0.9 * len(labels) + 2), 7.8), sharex=True, layout="constrained")
    for ax, (q, name) in zip(axes, (("energy", "ε"), ("W", "W"), ("Mz", "$M_z$"))):
        values = [metrics[f"{k}_{q}"].to_numpy() for k in ("final", "relaxed", "kicked")[:3 if kicked else 2]]
        ax.vlines(x, np.minimum.reduce(values), np.maximum.reduce(values), color="grey", linewidth=1)
        ax.scatter(x, values[0], color="C0", label="decoded (final)", zorder=3)
        ax.scatter(x, values[1], color="C3", marker="x", label="relaxed (T = 0 sweeps)", zorder=3)
        if kicked:
            ax.scatter(x, values[2], color="C2", marker="^", facecolors="none", label="kicked (T > 0 sweeps, quench)",
                       zorder=3)
        ax.set_ylabel(name)
    axes[0].legend()
    axes[-1].set_xticks(x, labels, fontsize=NOTE)
    fig.suptitle("relaxation and stability checks: each optimized state before and after zero-temperature "
                 "sweeps, and after a thermal kick" if kicked else
                 "relaxation check: each optimized state before and after zero-temperature heat-bath sweeps")
    return fig


def draw(config, *, metrics=None, **_):
    """The relaxation figure of the workflow, from results/explore/metrics.csv."""
    import pandas as pd

    if not metrics:
        raise ConfigError("figure relaxation needs --metrics")
    return relaxation_figure(pd.read_csv(metrics))
