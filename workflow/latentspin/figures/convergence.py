"""Beyond the paper: the convergence of every explored pair."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from latentspin.figures.panels import ALGORITHM_LABELS, objective_label
from latentspin.figures.style import plt


def convergence_figure(runs: Mapping[tuple[str, str], Mapping]):
    """One panel per explored pair: single-code, the mean cost of the codes with the 10-90 %
    band; genetic, the worst, mean and best objective of each generation; stochastic, ⟨Q⟩ and
    the mean σ* (right axis). Each run maps its trajectory variables (numpy arrays)."""
    pairs = list(runs)
    if not pairs:
        raise ValueError("no explored pairs to draw")
    ncols = min(4, len(pairs))
    nrows = -(-len(pairs) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.6 * ncols, 2.7 * nrows), squeeze=False, layout="constrained")
    for ax, (algorithm, objective) in zip(axes.flat, pairs):
        r = runs[(algorithm, objective)]
        label = objective_label(objective)
        if algorithm == "single_code":
            cost = np.asarray(r["cost"], dtype=float)
            ax.plot(r["step"], cost.mean(axis=1), color="C0", label="mean")
            ax.fill_between(r["step"], *np.percentile(cost, [10, 90], axis=1), color="C0", alpha=0.25, label="10-90 %")
            ax.set(xlabel="Adam step", ylabel=f"cost ({label})")
        elif algorithm == "genetic":
            for k, stat in enumerate(("value_min", "value_mean", "value_max")):
                ax.plot(r["generation"], r[stat], color=f"C{k}", label=stat.split("_")[1])
            ax.set(xlabel="generation", ylabel=label)
        else:
            ax.plot(r["step"], r["cost"], color="C0", label="⟨Q⟩")
            ax.set(xlabel="iteration", ylabel=f"⟨Q⟩ ({'-' if r['maximize'] else ''}{label})")
            twin = ax.twinx()
            sigma = np.asarray(r["sigma_mean"], dtype=float)
            twin.plot(r["step"], sigma, color="C1", label="mean σ*")
            if sigma.min() > 0 and sigma.max() / sigma.min() > 10:
                twin.set_yscale("log")
            twin.set_ylabel("mean σ*", color="C1")
        ax.set_title(f"{ALGORITHM_LABELS[algorithm]}: {'max' if r['maximize'] else 'min'} {label}")
        ax.legend()
    for ax in list(axes.flat)[len(pairs):]:
        ax.set_axis_off()
    fig.suptitle("convergence of every explored pair")
    return fig


def draw(config, *, runs, **_):
    return convergence_figure(runs)
