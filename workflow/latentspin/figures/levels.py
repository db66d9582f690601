"""Beyond the paper: the stochastic searches' states at the end of each γ level."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from latentspin.figures.panels import format_value, objective_label
from latentspin.figures.style import NOTE, ROW_LABEL, plt, show_spins

LEVEL_COLUMNS = 5


def levels_figure(runs: Mapping[tuple[str, str], Mapping]):
    """One row per stochastic run: a decoded sample of N(μ*, σ*²) at the end of each γ level
    (``level_spins``; the first LEVEL_COLUMNS levels and the last), titled with γ and the step and
    labelled below with the means over the level's samples of the objective, |W| and the decoder's
    output amplitude, and in the last column the state decoded from the final μ*. A search can
    sample the states it is after at one γ and end with a centre that decodes to something else."""
    pairs = [p for p in runs if "level_spins" in runs[p]]
    if not pairs:
        raise ValueError("no stochastic run with decoded level samples to draw (explore.stochastic.level_samples: 0?)")
    shown = {}
    for p in pairs:
        n = len(runs[p]["level_gamma"])
        shown[p] = sorted(set(range(min(n, LEVEL_COLUMNS))) | {n - 1})
    ncols = max(len(v) for v in shown.values()) + 1
    fig, axes = plt.subplots(len(pairs), ncols, figsize=(2.3 * ncols, 2.75 * len(pairs) + 0.5), squeeze=False,
                             layout="constrained")
    for row, p in enumerate(pairs):
        r, label = runs[p], objective_label(p[1])
        for col, level in enumerate(shown[p]):
            ax = axes[row, col]
            show_spins(ax, r["level_spins"][level, 0],
                       f"γ = {r['level_gamma'][level]:.0e}, step {int(r['level_step'][level]) + 1:,}")
            text = f"⟨{label}⟩ {format_value(p[1], float(np.mean(r['level_objective'][level])))}" \
                   f"  ⟨|W|⟩ {np.mean(np.abs(np.round(r['level_W'][level]))):.1f}"
            if "level_amplitude" in r:
                text += f"\namplitude {np.mean(r['level_amplitude'][level]):.2f}"
            ax.set_xlabel(text, fontsize=NOTE)
        for ax in axes[row, len(shown[p]):-1]:
            ax.set_axis_off()
        ax = axes[row, -1]
        show_spins(ax, r["final_spins"][0], "μ* at the end")
        text = f"{label} {format_value(p[1], float(r['final_objective'][0]))}  W {np.round(r['final_W'][0]) + 0.0:.0f}"
        if "final_amplitude" in r:
            text += f"\namplitude {float(r['final_amplitude'][0]):.2f}"
        ax.set_xlabel(text, fontsize=NOTE)
        axes[row, 0].set_ylabel(f"stochastic: {'max' if r['maximize'] else 'min'} {label}", fontsize=ROW_LABEL)
    prior = next((float(runs[p]["prior_amplitude"]) for p in pairs if "prior_amplitude" in runs[p]), None)
    fig.suptitle("stochastic algorithm: a sample of N(μ*, σ*²) at the end of each γ level\n(below it: means over "
                 "the level's samples) and the final μ*"
                 + ("" if prior is None else f"; output amplitude of prior samples {prior:.2f}"))
    return fig


def draw(config, *, runs, **_):
    return levels_figure(runs)
