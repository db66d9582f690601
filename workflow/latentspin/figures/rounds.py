"""Beyond the paper: the retraining loop's rounds (explore.retrain), side by side."""

from __future__ import annotations

import numpy as np
import pandas as pd

from latentspin.core.errors import ConfigError
from latentspin.figures.panels import ALGORITHM_LABELS, format_value, objective_label
from latentspin.figures.style import NOTE, plt, show_spins

# the final states' physics per round: (column of metrics.csv, axis label)
QUANTITIES = (("nodal_points", "nodal points"), ("max_local_energy", "peak local ε"),
              ("amplitude", "output amplitude"), ("latent_radius", "|z| / √N"))


MARKERS = {"single_code": "s", "genetic": "^", "stochastic": "o"}


def _pair_label(algorithm: str, objective: str, maximize) -> str:
    return f"{ALGORITHM_LABELS[algorithm]}: {'max' if maximize else 'min'} {objective_label(objective)}"


def decoder_table(metrics: pd.DataFrame) -> pd.DataFrame:
    """One row per (objective, round) decoder: its validation L_RC of the original data and the
    diversity of its decoded prior samples. Round 0, the paper's decoder, is read from round 1's
    'before' columns (retrain_*_before); a round without a pool (round 0 alone) has none."""
    rows = []
    for (objective, r), group in metrics.groupby(["objective", "round"]):
        row = group.iloc[0]
        if r == 0:
            continue
        rows.append({"objective": objective, "round": r, "valid_rc": row.get("retrain_valid_rc"),
                     "prior_diversity": row.get("retrain_prior_diversity")})
        if r == 1:
            rows.append({"objective": objective, "round": 0, "valid_rc": row.get("retrain_valid_rc_before"),
                         "prior_diversity": row.get("retrain_prior_diversity_before")})
    return pd.DataFrame(rows, columns=["objective", "round", "valid_rc", "prior_diversity"]).sort_values(
        ["objective", "round"]).reset_index(drop=True)


def rounds_figure(metrics: pd.DataFrame, finals: dict, paper_peak: float | None = None,
                  nodal_threshold: float | None = None):
    """Does the loop help? For each repeated pair (rows of `metrics`, results/retrain/metrics.csv)
    against the round: (a) its objective, decoded (final) and relaxed by the real Hamiltonian;
    (b) the final states' nodal points, peak local ε (with the paper's -1.88 and the nodal
    threshold), decoder output amplitude and latent radius; (c) the guards: each decoder's
    validation L_RC of the original data (forgetting), the diversity of its decoded prior samples
    and of the stochastic searches' first γ level (collapse); (d) the final state of each pair in
    each round (`finals`: {(algorithm, objective, round): (spins (3, L, L), title)})."""
    pairs = list(dict.fromkeys(zip(metrics["algorithm"], metrics["objective"])))
    rounds = sorted(int(r) for r in metrics["round"].unique())
    decoders = decoder_table(metrics)
    # one colour per objective (its decoder and its searches), one marker per algorithm
    colour = {o: f"C{k}" for k, o in enumerate(dict.fromkeys(o for _, o in pairs))}
    fig = plt.figure(figsize=(max(13.0, 2.0 * len(rounds) + 3), 7.2 + 2.0 * len(pairs)), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[7.2, 2.0 * len(pairs)])
    rows = top.subfigures(3, 1)
    x = np.asarray(rounds)
    # (a) the objective of each pair, on its own scale
    for ax, (algorithm, objective) in zip(rows[0].subplots(1, len(pairs), squeeze=False)[0], pairs):
        m = metrics[(metrics["algorithm"] == algorithm) & (metrics["objective"] == objective)].sort_values("round")
        ax.plot(m["round"], m["final_objective"], marker="o", color="C0", label="decoded (final)")
        if "relaxed_objective" in m:
            ax.plot(m["round"], m["relaxed_objective"], marker="x", linestyle="--", color="C3", label="relaxed")
        ax.set_title(_pair_label(algorithm, objective, m["maximize"].iloc[0]), loc="left", fontsize=NOTE + 2)
        ax.set_xticks(x)
        ax.ticklabel_format(axis="y", useOffset=False)
    ax.legend(fontsize=NOTE)
    rows[0].suptitle("(a) the objective of the final states, against the round (0: the paper's method)", x=0.01,
                     ha="left", fontsize=NOTE + 2)
    # (b) the final states' physics: one line per pair
    axes = rows[1].subplots(1, len(QUANTITIES))
    for ax, (q, name) in zip(axes, QUANTITIES):
        for algorithm, objective in pairs:
            m = metrics[(metrics["algorithm"] == algorithm) & (metrics["objective"] == objective)].sort_values("round")
            if f"final_{q}" in m:
                ax.plot(m["round"], m[f"final_{q}"], marker=MARKERS[algorithm], color=colour[objective],
                        label=_pair_label(algorithm, objective, m["maximize"].iloc[0]))
        ax.set_ylabel(name)
        ax.set_xticks(x)
        ax.set_xlabel("round")
    if paper_peak is not None:
        axes[1].axhline(paper_peak, color="grey", linestyle="--", linewidth=1, label=f"paper's peak {paper_peak:g}")
    if nodal_threshold is not None:
        axes[1].axhline(nodal_threshold, color="C3", linestyle=":", linewidth=1, label="nodal threshold")
    axes[1].legend(fontsize=NOTE - 1)
    axes[0].legend(fontsize=NOTE - 1)
    rows[1].suptitle("(b) the final states (decoded): defects, and where in the decoder's range they lie", x=0.01,
                     ha="left", fontsize=NOTE + 2)
    # (c) the guards
    axes = rows[2].subplots(1, 3)
    for objective, d in decoders.groupby("objective", sort=False):
        axes[0].plot(d["round"], d["valid_rc"], marker="o", color=colour[objective],
                     label=f"decoder for {objective_label(objective)}")
        axes[1].plot(d["round"], d["prior_diversity"], marker="o", color=colour[objective],
                     label=f"decoder for {objective_label(objective)}")
    for algorithm, objective in pairs:
        m = metrics[(metrics["algorithm"] == algorithm) & (metrics["objective"] == objective)].sort_values("round")
        if "level_diversity" in m and m["level_diversity"].notna().any():
            axes[2].plot(m["round"], m["level_diversity"], marker=MARKERS[algorithm], color=colour[objective],
                         label=_pair_label(algorithm, objective, m["maximize"].iloc[0]))
    for ax, name in zip(axes, ("validation $L_{RC}$ of the data", "diversity of prior samples",
                               "diversity of the first γ level's samples")):
        ax.set_ylabel(name)
        ax.set_xticks(x)
        ax.set_xlabel("round")
        if ax.lines:
            ax.legend(fontsize=NOTE - 1)
    rows[2].suptitle("(c) the guards: forgetting the data (L_RC up), collapsing onto one state (diversity down)",
                     x=0.01, ha="left", fontsize=NOTE + 2)
    # (d) the final state of each pair in each round
    grid = bottom.subplots(len(pairs), len(rounds), squeeze=False)
    for i, (algorithm, objective) in enumerate(pairs):
        for j, r in enumerate(rounds):
            ax = grid[i, j]
            if (algorithm, objective, r) in finals:
                spins, title = finals[(algorithm, objective, r)]
                show_spins(ax, spins)
                ax.set_title(title, fontsize=NOTE)
            else:
                ax.set_axis_off()
            if j == 0:
                ax.set_ylabel(_pair_label(algorithm, objective, True).split(":")[0] + f"\n{objective_label(objective)}",
                              fontsize=NOTE + 1)
    bottom.suptitle("(d) the final state (decoded) of each search in each round", x=0.01, ha="left",
                    fontsize=NOTE + 2)
    return fig


def final_states(metrics: pd.DataFrame) -> dict:
    """{(algorithm, objective, round): (spins, title)}: the best final state of each row's search,
    read from the trajectory store its row names (metrics.csv's ``trajectory`` column)."""
    from latentspin.core.stores import load_arrays

    out = {}
    for _, row in metrics.iterrows():
        run = load_arrays(row["trajectory"])
        values = np.asarray(run["final_objective"], dtype=float)
        best = int(np.argmax(values) if row["maximize"] else np.argmin(values))
        w, mz, nodal = (float(np.asarray(run[f"final_{q}"])[best]) for q in ("W", "Mz", "nodal_points"))
        title = (f"round {row['round']}: {format_value(row['objective'], values[best])}\n"
                 f"W {w:+.0f}, Mz {mz:.2f}, {nodal:.0f} nodal")
        out[(row["algorithm"], row["objective"], int(row["round"]))] = (np.asarray(run["final_spins"][best]), title)
    return out


def draw(config, *, metrics=None, **_):
    """The rounds figure of the workflow, from results/retrain/metrics.csv and the stores it names."""
    if not metrics:
        raise ConfigError("figure rounds needs --metrics (results/retrain/metrics.csv)")
    table = pd.read_csv(metrics)
    return rounds_figure(table, final_states(table), config.get("claims", {}).get("paper_peak"),
                         config["explore"]["nodal_threshold"])
