"""Fig. 4: the genetic algorithm's snapshots and populations."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from latentspin.figures.panels import distributions, format_value, objective_label, panel_label
from latentspin.figures.style import NOTE, plt, show_spins


def figure_4(runs: Mapping[str, Mapping], lattice_vector: Sequence[int]):
    """One row per genetic run (the best individual at each snapshot generation, titled with its
    objective value); (d) W of the initial and final populations of the W and Mz runs; (g) ε of
    the initial and final populations of the C and ε runs. Each run maps ``snapshot_spins``
    (n, 3, L, L), ``generations`` (n,), ``values`` (n,) and ``initial_population_{W,energy}``,
    ``final_population_{W,energy}``."""
    objectives = [o for o in ("W", "Mz", "C", "energy") if o in runs]
    if not objectives:
        raise ValueError("figure 4 needs at least one genetic run of W, Mz, C or energy")
    ncols = max(len(runs[o]["generations"]) for o in objectives)
    fig = plt.figure(figsize=(2.0 * ncols + 4.4, 2.2 * len(objectives) + 0.6), layout="constrained")
    left, right = fig.subfigures(1, 2, width_ratios=[ncols, 2.1])
    axes = left.subplots(len(objectives), ncols, squeeze=False)
    letters = {"W": "b", "Mz": "c", "C": "e", "energy": "f"}
    for row, o in enumerate(objectives):
        run = runs[o]
        for col in range(ncols):
            ax = axes[row, col]
            if col >= len(run["generations"]):
                ax.set_axis_off()
                continue
            value = format_value(o, run["values"][col])
            title = f"gen {int(run['generations'][col])}: {objective_label(o)} = {value}"
            show_spins(ax, run["snapshot_spins"][col], title)
        axes[row, 0].set_ylabel(f"max {objective_label(o)}" if o != "energy" else "min ε")
        panel_label(axes[row, 0], letters[o])
        if o == "C":
            _arrow(axes[row, len(run["generations"]) - 1], lattice_vector, run["snapshot_spins"].shape[-1])
    ax_d, ax_g = right.subplots(2, 1)
    _population_panel(ax_d, runs, ("W", "Mz"), "W", discrete=True)
    panel_label(ax_d, "d")
    _population_panel(ax_g, runs, ("C", "energy"), "energy", discrete=False)
    panel_label(ax_g, "g")
    fig.suptitle("Fig. 4: genetic algorithm, best individual of the generation")
    return fig


def _arrow(ax, a: Sequence[int], L: int):
    """The direction of the lattice vector a of C, drawn from the panel's centre."""
    a = np.asarray(a, dtype=float)
    d = 0.3 * L * a / np.linalg.norm(a)
    c = L / 2
    ax.annotate("", xy=(c + d[0], c + d[1]), xytext=(c - d[0], c - d[1]),
                arrowprops=dict(arrowstyle="-|>", color="black", lw=2.0, mutation_scale=18))
    ax.annotate("", xy=(c + d[0], c + d[1]), xytext=(c - d[0], c - d[1]),
                arrowprops=dict(arrowstyle="-|>", color="yellow", lw=1.0, mutation_scale=14))
    ax.text(c, c - 0.42 * L, f"a = ({a[0]:g}, {a[1]:g})", ha="center", fontsize=NOTE,
            bbox=dict(facecolor="white", alpha=0.7, edgecolor="none", pad=1))


def _population_panel(ax, runs, objectives, quantity, discrete):
    samples = {}
    for o in objectives:
        if o in runs:
            samples[f"{objective_label(o)} run, initial"] = runs[o][f"initial_population_{quantity}"]
            samples[f"{objective_label(o)} run, final"] = runs[o][f"final_population_{quantity}"]
    if not samples:
        ax.set_axis_off()
        ax.text(0.5, 0.5, "not run", ha="center", transform=ax.transAxes)
        return
    label = objective_label(quantity) if quantity != "energy" else "energy density ε"
    distributions(ax, samples, label, discrete=discrete)
    ax.set_title("initial and final populations")


def genetic_runs(runs: Mapping) -> dict:
    """Fig. 4's inputs: each genetic run's snapshots, with the objective value of each (the best
    of its generation: the maximum, or the minimum when minimizing)."""
    out = {}
    for (algorithm, objective), r in runs.items():
        if algorithm != "genetic":
            continue
        best = r["value_max"] if r["maximize"] else r["value_min"]
        out[objective] = {"snapshot_spins": r["snapshot_spins"], "generations": r["snapshot"],
                          "values": best[r["snapshot"]],
                          **{k: r[k] for k in r if k.startswith(("initial_population_", "final_population_"))}}
    return out


def draw(config, *, runs, **_):
    """Fig. 4 of the workflow, from the genetic searches."""
    return figure_4(genetic_runs(runs), config["explore"]["objectives"]["C"]["a"])
