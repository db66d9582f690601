"""The paper's figures (Figs. 1, 3, 4, 5) and the ones beyond it (convergence, relaxation).

Each ``figure_*`` function takes arrays, not files, and returns a matplotlib Figure, so it can be
tested on synthetic states; ``cli.py`` reads the workflow's outputs and saves the figures. Spins
are drawn in the paper's convention (:mod:`latentspin.plotting`): hue = in-plane angle, white =
+z, black = -z. Images are drawn with ``origin="lower"``: x to the right, y upwards, as the
lattice vectors of the objectives.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from typing import TYPE_CHECKING

import numpy as np

from .plotting import colour_wheel, plt, show_spins, spin_rgb

if TYPE_CHECKING:
    from .hamiltonian import Hamiltonian

# torch (through physics) is imported only by the figures that compute physics from spins
# (1, 3); the others draw what the runs measured, and their jobs start in half the time.

# The paper's order and names of the objectives and algorithms, for titles and legends.
LABELS = {"energy": "ε", "W": "W", "Mz": "$M_z$", "C": "C", "C_BC": "$C_{BC}$"}


def _label(objective: str) -> str:
    """The objective's symbol; one not in LABELS (one of your own) is labelled by its name."""
    return LABELS.get(objective, objective)


ALGORITHM_LABELS = {"single_code": "single-code", "genetic": "genetic", "stochastic": "stochastic"}
NODAL_STYLE = dict(s=70, facecolors="none", edgecolors="red", linewidths=1.2)


def panel_label(ax, letter: str):
    ax.text(-0.08, 1.04, letter, transform=ax.transAxes, fontsize=11, fontweight="bold", va="bottom", ha="right")


def local_energy(spins: np.ndarray, ham: Hamiltonian) -> np.ndarray:
    """Local energy density maps (..., L, L) of spins (..., 3, L, L)."""
    import torch

    from . import physics

    return physics.local_energy_density(torch.from_numpy(np.asarray(spins, dtype=np.float64)), ham).numpy()


def nodal_mask(local: np.ndarray, threshold: float) -> np.ndarray:
    """Where the nodal points are, bool (..., L, L), given the local energy density maps
    (:func:`local_energy`), which the figures also draw and average."""
    import torch

    from . import physics

    return physics.nodal_point_mask(torch.from_numpy(local), threshold).numpy()


def mark(ax, mask: np.ndarray, **style):
    """Circle the sites where mask (L, L) is true."""
    ys, xs = np.nonzero(mask)
    ax.scatter(xs, ys, **(NODAL_STYLE | style))


def energy_map(ax, local: np.ndarray, vmin: float, vmax: float, title: str | None = None):
    im = ax.imshow(local, origin="lower", cmap="magma", vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=8)
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
    ax.legend(fontsize=7, frameon=False)


# --- Fig. 1: the data and the decoded prior samples ---------------------------------------------


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
                 f"maxima above {threshold}", fontsize=9)
    return fig


# --- Fig. 3: single-code modification ------------------------------------------------------------


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
    ax.set_title("100 states each (paper Fig. 3c)", fontsize=8)
    panel_label(ax, "c")
    fig.suptitle(f"Fig. 3: single-code modification; circles: nodal points of $X_{{VAE}}$ (total "
                 f"{int(before.sum())} in {len(x_vae)} states, {int(after.sum())} left in $X'_{{VAE}}$)", fontsize=9)
    return fig


# --- Fig. 4: the genetic algorithm ---------------------------------------------------------------


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
            show_spins(ax, run["snapshot_spins"][col],
                       f"gen {int(run['generations'][col])}: {_label(o)} = {_value(o, run['values'][col])}")
        axes[row, 0].set_ylabel(f"max {_label(o)}" if o != "energy" else "min ε")
        panel_label(axes[row, 0], letters[o])
        if o == "C":
            _arrow(axes[row, len(run["generations"]) - 1], lattice_vector, run["snapshot_spins"].shape[-1])
    ax_d, ax_g = right.subplots(2, 1)
    _population_panel(ax_d, runs, ("W", "Mz"), "W", discrete=True)
    panel_label(ax_d, "d")
    _population_panel(ax_g, runs, ("C", "energy"), "energy", discrete=False)
    panel_label(ax_g, "g")
    fig.suptitle("Fig. 4: genetic algorithm, best individual of the generation", fontsize=9)
    return fig


def _value(objective: str, v: float) -> str:
    return f"{v:+.0f}" if objective == "W" else f"{v:.5f}" if objective == "energy" else f"{v:.4f}"


def _arrow(ax, a: Sequence[int], L: int):
    """The direction of the lattice vector a of C, drawn from the panel's centre."""
    a = np.asarray(a, dtype=float)
    d = 0.3 * L * a / np.linalg.norm(a)
    c = L / 2
    ax.annotate("", xy=(c + d[0], c + d[1]), xytext=(c - d[0], c - d[1]),
                arrowprops=dict(arrowstyle="-|>", color="black", lw=2.0, mutation_scale=18))
    ax.annotate("", xy=(c + d[0], c + d[1]), xytext=(c - d[0], c - d[1]),
                arrowprops=dict(arrowstyle="-|>", color="yellow", lw=1.0, mutation_scale=14))
    ax.text(c, c - 0.42 * L, f"a = ({a[0]:g}, {a[1]:g})", ha="center", fontsize=7,
            bbox=dict(facecolor="white", alpha=0.7, edgecolor="none", pad=1))


def _population_panel(ax, runs, objectives, quantity, discrete):
    samples = {}
    for o in objectives:
        if o in runs:
            samples[f"{_label(o)} run, initial"] = runs[o][f"initial_population_{quantity}"]
            samples[f"{_label(o)} run, final"] = runs[o][f"final_population_{quantity}"]
    if not samples:
        ax.set_axis_off()
        ax.text(0.5, 0.5, "not run", ha="center", transform=ax.transAxes)
        return
    label = _label(quantity) if quantity != "energy" else "energy density ε"
    distributions(ax, samples, label, discrete=discrete)
    ax.set_title("initial and final populations", fontsize=8)


# --- Fig. 5: the stochastic algorithm ------------------------------------------------------------


def figure_5(states: Mapping[str, Mapping], s_bc: np.ndarray | None, ring: tuple[float, float], data_W: np.ndarray,
             data_Mz: np.ndarray, optimized: Mapping[str, float] | None):
    """(b, c, d) the decoded μ* of the stochastic runs maximizing Mz, minimizing ε and maximizing
    C_BC (the ring of S_BC dashed on d); (e) the boundary map S_BC that run used (None: not run); (f) W against Mz of X_IN
    with the optimized state of (b), and the least-squares line of the data.
    `states` maps an objective to the state's ``spins`` (3, L, L) and its measured ``energy``,
    ``W``, ``Mz`` and ``max_local_energy``; `ring` is (radius, width) in sites; `optimized` has
    keys W, Mz (and relaxed_W, relaxed_Mz)."""
    fig, axes = plt.subplots(1, 6, figsize=(16.5, 3.6), layout="constrained",
                             gridspec_kw={"width_ratios": [1, 1, 1, 1, 0.4, 1.35]})
    colour_wheel(axes[4])
    axes = [*axes[:4], axes[5]]
    for ax, o, letter, verb in zip(axes[:3], ("Mz", "energy", "C_BC"), "bcd", ("max", "min", "max")):
        panel_label(ax, letter)
        if o not in states:
            ax.set_axis_off()
            ax.text(0.5, 0.5, f"{verb} {_label(o)}: not run", ha="center", transform=ax.transAxes)
            continue
        st = states[o]
        show_spins(ax, st["spins"], f"{verb} {_label(o)}: ε={st['energy']:.4f}, $M_z$={st['Mz']:.2f}, "
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
        axes[3].set_title(f"$S_{{BC}}$: ring radius {ring[0]:.1f}, width {ring[1]:g} (grey: 0)", fontsize=8)
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
    ax.set(xlabel="$M_z$", ylabel="W")
    ax.legend(fontsize=7, frameon=False)
    panel_label(ax, "f")
    fig.suptitle("Fig. 5: stochastic algorithm, the decoded state at μ*", fontsize=9)
    return fig


def _ring(ax, L: int, radius: float, width: float):
    c = (L - 1) / 2
    for r in (radius - width / 2, radius + width / 2):
        ax.add_patch(plt.Circle((c, c), r, fill=False, linestyle="--", color="black", linewidth=0.9))


# --- beyond the paper: convergence and the relaxation check -------------------------------------


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
        label = _label(objective)
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
        ax.set_title(f"{ALGORITHM_LABELS[algorithm]}: {'max' if r['maximize'] else 'min'} {label}", fontsize=9)
        ax.legend(fontsize=7, frameon=False)
    for ax in list(axes.flat)[len(pairs):]:
        ax.set_axis_off()
    fig.suptitle("convergence of every explored pair", fontsize=10)
    return fig


def paths_figure(runs: Mapping[tuple[str, str], Mapping], nodal_threshold: float | None = None):
    """The physics along each search path: ε, W, Mz and the peak local energy density of the
    state decoded from the best individual of the generation (genetic) or from μ* (stochastic), at
    the probed steps (``probe_*`` variables of the trajectory), and the decoder's output amplitude
    there against that of decoded prior samples (:func:`latentspin.vae.decoder_amplitude`): a
    path that falls far below it leads to states the network barely produces; and the code's
    length in units of √N against the prior's 1 (:func:`latentspin.vae.latent_radius`): a
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
            axes[row, 3].legend(fontsize=7, frameon=False)
        if "probe_amplitude" in r and "prior_amplitude" in r:
            axes[row, 4].axhline(float(r["prior_amplitude"]), color="C2", linestyle="--", linewidth=1,
                                 label="prior samples")
            axes[row, 4].set_ylim(bottom=0)
            axes[row, 4].legend(fontsize=7, frameon=False)
        if "probe_latent_radius" in r:
            axes[row, 5].axhline(1.0, color="C2", linestyle="--", linewidth=1, label="prior samples")
            axes[row, 5].set_ylim(bottom=0)
            axes[row, 5].legend(fontsize=7, frameon=False)
        axes[row, 0].set_title(f"{ALGORITHM_LABELS[algorithm]}: {'max' if r['maximize'] else 'min'} "
                               f"{_label(objective)}", fontsize=9, loc="left")
        if algorithm == "stochastic" and "gamma" in r:  # mark where γ drops
            for step in r["step"][1:][np.diff(r["gamma"]) != 0]:
                for ax in axes[row]:
                    ax.axvline(step, color="grey", linewidth=0.6, linestyle=":")
    for ax in axes[-1]:
        ax.set_xlabel("generation / iteration")
    fig.suptitle("physics along the search path: the best individual (genetic) or μ* (stochastic), decoded; "
                 "dotted: γ divided; amplitude: the decoder's output before its L2 normalization; "
                 "|z| / √N: 1 for prior codes", fontsize=9)
    return fig


# γ levels drawn per stochastic run: the first ones, where the distribution still spreads, and the last
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
        r, label = runs[p], _label(p[1])
        for col, level in enumerate(shown[p]):
            ax = axes[row, col]
            show_spins(ax, r["level_spins"][level, 0],
                       f"γ = {r['level_gamma'][level]:.0e}, step {int(r['level_step'][level]) + 1:,}")
            text = f"⟨{label}⟩ {_value(p[1], float(np.mean(r['level_objective'][level])))}" \
                   f"  ⟨|W|⟩ {np.mean(np.abs(np.round(r['level_W'][level]))):.1f}"
            if "level_amplitude" in r:
                text += f"\namplitude {np.mean(r['level_amplitude'][level]):.2f}"
            ax.set_xlabel(text, fontsize=7)
        for ax in axes[row, len(shown[p]):-1]:
            ax.set_axis_off()
        ax = axes[row, -1]
        show_spins(ax, r["final_spins"][0], "μ* at the end")
        text = f"{label} {_value(p[1], float(r['final_objective'][0]))}  W {np.round(r['final_W'][0]) + 0.0:.0f}"
        if "final_amplitude" in r:
            text += f"\namplitude {float(r['final_amplitude'][0]):.2f}"
        ax.set_xlabel(text, fontsize=7)
        axes[row, 0].set_ylabel(f"stochastic: {'max' if r['maximize'] else 'min'} {label}", fontsize=9)
    prior = next((float(runs[p]["prior_amplitude"]) for p in pairs if "prior_amplitude" in runs[p]), None)
    fig.suptitle("stochastic algorithm: a sample of N(μ*, σ*²) at the end of each γ level\n(below it: means over "
                 "the level's samples) and the final μ*"
                 + ("" if prior is None else f"; output amplitude of prior samples {prior:.2f}"), fontsize=9)
    return fig


def relaxation_figure(metrics):
    """ε, W and Mz of each pair's final state (decoded) and after zero-temperature relaxation with
    the real Hamiltonian: a state that barely moves is a metastable state of the physics, one
    that moves far was an artefact of the decoder. `metrics` is results/explore/metrics.csv."""
    labels = [f"{ALGORITHM_LABELS[a]}\n{_label(o)}" for a, o in zip(metrics["algorithm"], metrics["objective"])]
    x = np.arange(len(labels))
    fig, axes = plt.subplots(3, 1, figsize=(max(6.0, 0.9 * len(labels) + 2), 7.5), sharex=True, layout="constrained")
    for ax, (q, name) in zip(axes, (("energy", "ε"), ("W", "W"), ("Mz", "$M_z$"))):
        final, relaxed = metrics[f"final_{q}"].to_numpy(), metrics[f"relaxed_{q}"].to_numpy()
        ax.vlines(x, np.minimum(final, relaxed), np.maximum(final, relaxed), color="grey", linewidth=1)
        ax.scatter(x, final, color="C0", label="decoded (final)", zorder=3)
        ax.scatter(x, relaxed, color="C3", marker="x", label="relaxed (T = 0 sweeps)", zorder=3)
        ax.set_ylabel(name)
    axes[0].legend(fontsize=7, frameon=False)
    axes[-1].set_xticks(x, labels, fontsize=7)
    fig.suptitle("relaxation check: each optimized state before and after zero-temperature heat-bath sweeps",
                 fontsize=9)
    return fig
