"""Beyond the paper: the physics along each search path."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from latentspin.figures.panels import ALGORITHM_LABELS, objective_label
from latentspin.figures.style import plt


def paths_figure(runs: Mapping[tuple[str, str], Mapping], nodal_threshold: float | None = None):
    """The physics along each search path: ε, W, Mz and the peak local energy density of the
    state decoded from the best individual of the generation (genetic) or from μ* (stochastic), at
    the probed steps (``probe_*`` variables of the trajectory), and the decoder's output amplitude
    there against that of decoded prior samples (:func:`latentspin.vae.model.decoder_amplitude`): a
    path that falls far below it leads to states the network barely produces; and the code's
    length in units of √N against the prior's 1 (:func:`latentspin.vae.model.latent_radius`): a
    path that walks far past it decodes codes no training sample encodes to. The peak against
    `nodal_threshold` shows when along the path nodal points appear, e.g. where a skyrmion is
    annihilated. Runs without probes (single-code) are skipped."""
    pairs = [p for p in runs if "probe_step" in runs[p]]
    if not pairs:
        raise ValueError("no genetic or stochastic run with probes to draw")
    quantities = (("energy", "ε"), ("W", "W"), ("Mz", "$M_z$"), ("max_local_energy", "peak local ε"),
                  ("amplitude", "output amplitude"), ("latent_radius", "|z| / √N"))
    fig, axes = plt.subplots(len(pairs), len(quantities), figsize=(19.5, 1.9 * len(pairs) + 0.6), squeeze=False,
                             sharex="row", layout="constrained")
    for row, (algorithm, objective) in enumerate(pairs):
        r = runs[(algorithm, objective)]
        for ax, (q, name) in zip(axes[row], quantities):
            if f"probe_{q}" not in r:  # a trajectory written before this quantity was recorded
                ax.set_axis_off()
                continue
            values = np.round(r[f"probe_{q}"], 9)  # W: integers, not the 1e-17 around them
            ax.plot(r["probe_step"], values, color="C0", marker=".", markersize=3)
            ax.ticklabel_format(axis="y", useOffset=False)
            ax.set_ylabel(name)
        if "probe_max_local_energy" in r and nodal_threshold is not None:
            axes[row, 3].axhline(nodal_threshold, color="C3", linestyle="--", linewidth=1, label="nodal threshold")
            axes[row, 3].legend()
        if "probe_amplitude" in r and "prior_amplitude" in r:
            axes[row, 4].axhline(float(r["prior_amplitude"]), color="C2", linestyle="--", linewidth=1,
                                 label="prior samples")
            axes[row, 4].set_ylim(bottom=0)
            axes[row, 4].legend()
        if "probe_latent_radius" in r:
            axes[row, 5].axhline(1.0, color="C2", linestyle="--", linewidth=1, label="prior samples")
            axes[row, 5].set_ylim(bottom=0)
            axes[row, 5].legend()
        axes[row, 0].set_title(f"{ALGORITHM_LABELS[algorithm]}: {'max' if r['maximize'] else 'min'} "
                               f"{objective_label(objective)}", loc="left")
        if algorithm == "stochastic" and "gamma" in r:  # mark where γ drops
            for step in r["step"][1:][np.diff(r["gamma"]) != 0]:
                for ax in axes[row]:
                    ax.axvline(step, color="grey", linewidth=0.6, linestyle=":")
    for ax in axes[-1]:
        ax.set_xlabel("generation / iteration")
    fig.suptitle("physics along the search path: the best individual (genetic) or μ* (stochastic), decoded; "
                 "dotted: γ divided; amplitude: the decoder's output before its L2 normalization; "
                 "|z| / √N: 1 for prior codes")
    return fig


def draw(config, *, runs, **_):
    return paths_figure(runs, config["explore"]["nodal_threshold"])
