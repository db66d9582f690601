"""Fig. 5: the stochastic algorithm's final states and the W-Mz plane."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from latentspin.core.errors import ConfigError
from latentspin.figures.inputs import x_in
from latentspin.figures.panels import objective_label, panel_label
from latentspin.figures.style import colour_wheel, plt, show_spins, spin_rgb


def figure_5(states: Mapping[str, Mapping], s_bc: np.ndarray | None, ring: tuple[float, float], data_W: np.ndarray,
             data_Mz: np.ndarray, optimized: Mapping[str, float] | None):
    """(b, c, d) the decoded μ* of the stochastic runs maximizing Mz, minimizing ε and maximizing
    C_BC (the ring of S_BC dashed on d); (e) the boundary map S_BC that run used (None: not run); (f) W against
    Mz of X_IN with the optimized state of (b), and the least-squares line of the data.
    `states` maps an objective to the state's ``spins`` (3, L, L) and its measured ``energy``,
    ``W``, ``Mz`` and ``max_local_energy``; `ring` is (radius, width) in sites; `optimized` has
    keys W, Mz (and relaxed_W, relaxed_Mz, and kicked_W, kicked_Mz where the run has the stability
    check)."""
    fig, axes = plt.subplots(1, 6, figsize=(16.5, 3.6), layout="constrained",
                             gridspec_kw={"width_ratios": [1, 1, 1, 1, 0.4, 1.35]})
    colour_wheel(axes[4])
    axes = [*axes[:4], axes[5]]
    for ax, o, letter, verb in zip(axes[:3], ("Mz", "energy", "C_BC"), "bcd", ("max", "min", "max")):
        panel_label(ax, letter)
        if o not in states:
            ax.set_axis_off()
            ax.text(0.5, 0.5, f"{verb} {objective_label(o)}: not run", ha="center", transform=ax.transAxes)
            continue
        st = states[o]
        show_spins(ax, st["spins"], f"{verb} {objective_label(o)}: ε={st['energy']:.4f}, $M_z$={st['Mz']:.2f}, "
                                    f"W={round(st['W']):+d}\npeak local ε {st['max_local_energy']:.3f}")
        if o == "C_BC":
            _ring(ax, st["spins"].shape[-1], *ring)
    panel_label(axes[3], "e")
    if s_bc is None:
        axes[3].set_axis_off()
        axes[3].text(0.5, 0.5, "$S_{BC}$: max $C_{BC}$ not run", ha="center", transform=axes[3].transAxes)
    else:
        rgb = spin_rgb(s_bc)
        rgb[np.linalg.norm(s_bc, axis=0) == 0] = 0.85  # grey off the ring, where S_BC = 0
        axes[3].imshow(rgb, origin="lower", interpolation="nearest")
        axes[3].set_xticks([])
        axes[3].set_yticks([])
        axes[3].set_title(f"$S_{{BC}}$: ring radius {ring[0]:.1f}, width {ring[1]:g} (grey: 0)")
    ax = axes[4]
    ax.scatter(data_Mz, data_W, s=6, alpha=0.35, color="C0", label=f"{len(data_W)} $X_{{IN}}$")
    slope, intercept = np.polyfit(data_Mz, data_W, 1)
    ends = [data_Mz.min(), data_Mz.max()] + ([optimized["Mz"]] if optimized is not None else [])
    mz = np.linspace(min(ends), max(ends), 2)  # the line out to the optimized state: what X_IN predicts there
    ax.plot(mz, slope * mz + intercept, color="C0", linewidth=1, label=f"fit: W = {slope:.1f} $M_z$ {intercept:+.2f}")
    if optimized is not None:
        ax.scatter([optimized["Mz"]], [optimized["W"]], marker="*", s=180, color="C3", label="max $M_z$ (b)", zorder=3)
        if "relaxed_W" in optimized:
            ax.scatter([optimized["relaxed_Mz"]], [optimized["relaxed_W"]], marker="x", s=60, color="black",
                       label="(b) relaxed", zorder=3)
        if "kicked_W" in optimized:
            ax.scatter([optimized["kicked_Mz"]], [optimized["kicked_W"]], marker="^", s=60, facecolors="none",
                       edgecolors="C2", label="(b) kicked", zorder=3)
    ax.set(xlabel="$M_z$", ylabel="W")
    ax.legend()
    panel_label(ax, "f")
    fig.suptitle("Fig. 5: stochastic algorithm, the decoded state at μ*")
    return fig


def _ring(ax, L: int, radius: float, width: float):
    c = (L - 1) / 2
    for r in (radius - width / 2, radius + width / 2):
        ax.add_patch(plt.Circle((c, c), r, fill=False, linestyle="--", color="black", linewidth=0.9))


def draw(config, *, runs, train=None, **_):
    """Fig. 5 of the workflow, from the stochastic searches and X_IN's W and Mz."""
    if not train:
        raise ConfigError("figure fig5 needs --train (the training data, X_IN)")
    L = config["lattice"]["L"]
    b = config["explore"]["objectives"]["C_BC"]["boundary"]
    c_bc = runs.get(("stochastic", "C_BC"))
    s_bc = None if c_bc is None else c_bc["boundary_map"]  # the map that run used
    states = {o: {"spins": r["final_spins"][0], **{k: float(r[f"final_{k}"][0]) for k in
                                                  ("energy", "W", "Mz", "max_local_energy")}}
              for (a, o), r in runs.items() if a == "stochastic"}
    mz_run = runs.get(("stochastic", "Mz"))
    optimized = None if mz_run is None else {
        "W": float(mz_run["final_W"][0]), "Mz": float(mz_run["final_Mz"][0]),
        "relaxed_W": float(mz_run["relaxed_W"][0]), "relaxed_Mz": float(mz_run["relaxed_Mz"][0]),
        **({"kicked_W": float(mz_run["kicked_W"][0]), "kicked_Mz": float(mz_run["kicked_Mz"][0])}
           if "kicked_W" in mz_run else {})}
    data = x_in(train, config["figures"]["x_in_w_mz"])
    return figure_5(states, s_bc, (b["radius"] * L, b["width"]), data["W"], data["Mz"], optimized)
