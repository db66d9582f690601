"""The paper's claims as numbers: ``results/claims.csv``.

Each claim is a function of the workflow's measured outputs that returns the measured value, a
sentence with the numbers behind it, and whether the claim held under a criterion fixed in
config.yaml (section ``claims``) before any result was seen. A claim whose run is not in the
config is listed as "not run", never dropped, so the table always has every claim.

Inputs (:class:`Inputs`): the first samples of the training data X_IN (ε, W, Mz), the
trajectory datasets of the explored pairs (``results/explore/{algorithm}/{objective}``), the
VAE diagnostics table, and the lattice's spiral ground state.

The sign of W. Our W follows the triangle order of docs/method.md (the standard orientation with x to the
right and y upwards), in which a skyrmion with a -z core in a +z background has W = -1. The
paper counts the skyrmions of its Mz-maximization (a +z background) as positive (Fig. 4c, d and
"the W values from both optimizations are increased"), so its W is ours with the opposite sign
for those textures. The W-maximization claim compares our W, which is what our run maximizes;
the Mz-maximization claim compares |W|, the number of skyrmions whatever the convention.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from latentspin.core.io import write_csv
from latentspin.figures.inputs import load_runs, x_in
from latentspin.physics.hamiltonian import Hamiltonian, lattice_ground_state

COLUMNS = ["id", "figure", "claim", "value", "measured", "criterion", "held", "paper"]
NOT_RUN = "not run"


@dataclass
class Inputs:
    """What the claims are measured from; a missing pair is simply absent from ``pairs``."""

    x_in: Mapping[str, np.ndarray]                  # energy, W, Mz of X_IN
    pairs: Mapping[tuple[str, str], Mapping]        # (algorithm, objective) -> trajectory variables
    vae: pd.DataFrame | None                        # results/vae/diagnostics.csv
    ground_state: float | None                      # best lattice spiral's ε; None in a field (no ground state known)
    chosen_beta: float
    criteria: Mapping = field(default_factory=dict)  # config["claims"]
    stability: Mapping = field(default_factory=dict)  # config["explore"]["stability"]: the thermal kick's settings
    pairs_key: str = "explore.pairs"                 # where a missing pair is added (a round's: explore.retrain.pairs)


@dataclass
class Claim:
    id: str
    figure: str
    claim: str
    paper: str
    needs: tuple  # the (algorithm, objective) pairs it reads; "vae" for the diagnostics, with "larger β" or
    #              "smaller β" for a model of β above or below vae.beta beside it
    measure: Callable[[Inputs], tuple[float, str, str, bool]]  # -> value, measured, criterion, held


def _first(run, key: str) -> float:
    """The first value of a run's variable (a single state's metric, or a trace's first entry)."""
    return float(np.asarray(run[key]).ravel()[0])


def _mean_std(x) -> str:
    x = np.asarray(x, dtype=float)
    return f"{x.mean():.5f} ± {x.std():.5f}"


def _standardized_shift(inp: Inputs, energies) -> float:
    """(mean(energies) - mean(ε of X_IN)) in units of X_IN's standard deviation."""
    ref = np.asarray(inp.x_in["energy"], dtype=float)
    return (float(np.mean(energies)) - ref.mean()) / ref.std()


def _energy_shift(states: str):
    """X_VAE ("initial") must lie above X_IN, X'_VAE ("final") must overlap it."""
    name, key = {"initial": ("X_VAE", "above_sigmas"), "final": ("X'_VAE", "overlap_sigmas")}[states]

    def measure(inp):
        e = inp.pairs[("single_code", "energy")][f"{states}_energy"]
        k = inp.criteria[key]
        d = _standardized_shift(inp, e)
        held = d >= k if states == "initial" else abs(d) <= k
        criterion = f"shift ≥ {k:g} std of X_IN" if states == "initial" else f"|shift| ≤ {k:g} std of X_IN"
        return (d, f"ε of X_IN {_mean_std(inp.x_in['energy'])}, {name} {_mean_std(e)}: {name}'s mean is "
                   f"{d:+.1f} std of X_IN away", criterion, held)
    return measure


def _nodal_removed(inp):
    sc = inp.pairs[("single_code", "energy")]
    before, after = int(np.sum(sc["initial_nodal_points"])), int(np.sum(sc["final_nodal_points"]))
    f = inp.criteria["nodal_remaining"]
    left = after / before if before else float("nan")
    return (left, f"nodal points in {len(sc['initial_nodal_points'])} states: {before} in X_VAE, {after} in X'_VAE",
            f"X_VAE has nodal points and at most {f:.0%} of them remain", before > 0 and after <= f * before)


def _population_change(inp, objective, quantity, absolute=False):
    run = inp.pairs[("genetic", objective)]
    a = np.asarray(run[f"initial_population_{quantity}"], dtype=float)
    b = np.asarray(run[f"final_population_{quantity}"], dtype=float)
    if absolute:
        a, b = np.abs(a), np.abs(b)
    return a, b, float(b.mean() - a.mean())


def _w_raised_by(objective):
    def measure(inp):
        absolute = objective == "Mz"
        a, b, diff = _population_change(inp, objective, "W", absolute)
        raw_a, raw_b, _ = _population_change(inp, objective, "W")
        k = inp.criteria["w_increase"]
        name = "|W|" if absolute else "W"
        return (diff, f"population mean {name}: initial {a.mean():.2f}, final {b.mean():.2f} (signed W: initial "
                      f"{raw_a.mean():+.2f}, final {raw_b.mean():+.2f})",
                f"final mean {name} ≥ initial + {k:g}", diff >= k)
    return measure


def _energy_lowered_by(objective):
    def measure(inp):
        a, b, diff = _population_change(inp, objective, "energy")
        return (diff, f"population mean ε: initial {a.mean():.5f}, final {b.mean():.5f}",
                "final mean ε < initial mean ε", diff < 0)
    return measure


def _c_raised(inp):
    run = inp.pairs[("genetic", "C")]
    a, b = (np.asarray(run[f"{w}_population_objective"], dtype=float) for w in ("initial", "final"))
    diff = float(b.mean() - a.mean())
    return (diff, f"population mean C: initial {a.mean():.4f}, final {b.mean():.4f}",
            "final mean C > initial mean C", diff > 0)


def _gap(algorithm):
    def measure(inp):
        run = inp.pairs[(algorithm, "energy")]
        eps = float(np.min(run["final_energy"]))
        gs = inp.ground_state
        data = float(np.mean(inp.x_in["energy"]))
        criterion = "below the mean ε of the annealed X_IN (closer to the ground state than annealing)"
        if gs is None:  # in a field: no ground state to measure a gap from; the comparison with the data stands
            return (float("nan"), f"best final ε {eps:.5f}; annealed X_IN {data:.5f}; no gap: in a field the spiral "
                                  "is not the ground state, and no other reference is known", criterion, eps < data)
        gap = (eps - gs) / abs(gs)
        return (gap, f"best final ε {eps:.5f}; spiral ground state {gs:.5f}: gap {gap:.3%} (annealed X_IN: "
                     f"{data:.5f}, gap {(data - gs) / abs(gs):.3%})", criterion, eps < data)
    return measure


def _skyrmions(inp):
    """Mz is raised over the search's start: the mean Mz of its first samples, drawn from the prior
    N(0, I) (the first entry of its ⟨Q⟩ trace, ``cost``, which for a maximized objective is -⟨Mz⟩).
    The state decoded at μ* = 0 is shown beside it but is no reference: the prior almost never draws
    that code (|z| ≈ √N), and a decoder's output there can be faint enough (amplitude well below
    its samples') that the normalization turns it into almost any Mz (docs/results.md)."""
    run = inp.pairs[("stochastic", "Mz")]
    w, mz, mz0 = (_first(run, k) for k in ("final_W", "final_Mz", "initial_Mz"))
    start = -_first(run, "cost")
    measured = (f"state at μ*: W {w:+.2f}, Mz {mz:.3f} (the search's first samples, from N(0, I): mean Mz "
                f"{start:.3f}; the state at μ* = 0: Mz {mz0:.3f})")
    if "final_amplitude" in run and "prior_amplitude" in run:  # context, not part of the criterion
        amplitude = _first(run, "final_amplitude")
        measured += f"; decoder output amplitude {amplitude:.2f} (prior samples {float(run['prior_amplitude']):.2f})"
    if "final_latent_radius" in run:  # context: how far out of the prior the search ended
        measured += f"; |μ*| = {_first(run, 'final_latent_radius'):.1f} √N (prior codes: 1)"
    if "level_W" in run:  # context: the distribution's samples on the way (levels.png)
        abs_w = np.abs(np.round(np.asarray(run["level_W"], dtype=float))).mean(axis=1)
        k = int(np.argmax(abs_w))
        measured += (f"; its samples held most skyrmions at γ = {float(run['level_gamma'][k]):.0e}: mean |W| "
                     f"{abs_w[k]:.1f}, Mz {float(np.mean(run['level_Mz'][k])):.3f}")
    return (w, measured, "|W| ≥ 1 (rounded: skyrmions) and Mz raised over the search's first samples",
            round(abs(w)) >= 1 and mz > start)


def _peak(inp):
    """The paper's -1.88 is the peak of its skyrmion state (Fig. 5b): a state without skyrmions
    (a uniform one peaks near -2 + D-terms) does not reproduce it, whatever its peak."""
    run = inp.pairs[("stochastic", "Mz")]
    peak = _first(run, "final_max_local_energy")
    w = _first(run, "final_W")
    p, tol = inp.criteria["paper_peak"], inp.criteria["peak_tolerance"]
    skyrmions = round(abs(w)) >= 1
    measured = (f"peak local energy density of the state at μ*: {peak:.3f} (paper {p:g}); W {w:+.2f}"
                + ("" if skyrmions else ": no skyrmions, so not the paper's skyrmion peak") + _lowest_probed_peak(run))
    return (peak, measured, f"a skyrmion state (|W| ≥ 1) peaking within {tol:g} of {p:g}",
            skyrmions and abs(peak - p) <= tol)


def _lowest_probed_peak(run) -> str:
    """Context, not part of the criterion: the lowest peak among the skyrmion states μ* passed
    through (the probes of paths.png). A search can pass a clean skyrmion lattice and then raise
    Mz further by annihilating skyrmions, which a weak decoder renders as defects."""
    if "probe_max_local_energy" not in run or "probe_W" not in run:
        return ""
    peak, w = (np.asarray(run[k], dtype=float) for k in ("probe_max_local_energy", "probe_W"))
    candidates = np.flatnonzero(np.round(np.abs(w)) >= 1)
    if not len(candidates):
        return "; no probed state on the path held a skyrmion"
    k = candidates[np.argmin(peak[candidates])]
    mz = f", Mz {float(run['probe_Mz'][k]):.3f}" if "probe_Mz" in run else ""
    radius = f", |μ*| {float(run['probe_latent_radius'][k]):.1f} √N" if "probe_latent_radius" in run else ""
    return (f"; lowest peak of a skyrmion state on the path: {peak[k]:.3f} at step {int(run['probe_step'][k])} "
            f"(W {w[k]:+.0f}{mz}{radius})")


def _relation(inp):
    run = inp.pairs[("stochastic", "Mz")]
    mz_data, w_data = (np.asarray(inp.x_in[k], dtype=float) for k in ("Mz", "W"))
    slope, intercept = np.polyfit(mz_data, w_data, 1)
    resid = float(np.std(w_data - (slope * mz_data + intercept)))
    w, mz = (_first(run, k) for k in ("final_W", "final_Mz"))
    predicted = slope * mz + intercept
    k = inp.criteria["relation_sigmas"]
    off = abs(w - predicted) / max(resid, 1e-12)
    return (off, f"{len(w_data)} X_IN: W = {slope:.2f} Mz {intercept:+.2f}, residual std {resid:.2f}; optimized "
                 f"state Mz {mz:.3f}, W {w:+.2f}, line predicts {predicted:+.2f} ({off:.1f} residual std away)",
            f"within {k:g} residual std of the X_IN line", off <= k)


def _bc_stable(inp):
    """5d: energetically stable = no nodal points and, where the run has it, the stability check:
    a thermal kick that a saddle does not survive (zero-temperature relaxation alone cannot tell
    a saddle from a minimum). Which check the verdict used is said in the row."""
    run = inp.pairs[("stochastic", "C_BC")]
    nodal = int(np.sum(run["final_nodal_points"]))
    e, er = _first(run, "final_energy"), _first(run, "relaxed_energy")
    peak = _first(run, "final_max_local_energy")
    measured = (f"C_BC {_first(run, 'final_objective'):.4f}; nodal points {nodal}, peak local ε {peak:.3f}; "
                f"ε {e:.5f}, relaxed {er:.5f}")
    if "survived_kick" not in run:  # a run made before the stability check existed
        return (nodal, measured + "; checked by zero-temperature relaxation only (no stability check in this run)",
                "no nodal points (relaxation check only: it cannot tell a saddle from a minimum)", nodal == 0)
    survived = bool(np.all(run["survived_kick"]))
    s = inp.stability
    kick = (f"a thermal kick (T = {s['temperature']:g}, {s['sweeps']} sweeps, then {s['quench_sweeps']} at T = 0)"
            if s else "the thermal kick")
    measured += (f", kicked {_first(run, 'kicked_energy'):.5f} (W {_first(run, 'kicked_W'):.0f}, "
                 f"Mz {_first(run, 'kicked_Mz'):.3f}): {'survived' if survived else 'decayed under'} {kick}")
    return (nodal, measured, "no nodal points, and it survives the stability check's thermal kick",
            nodal == 0 and survived)


def _epochs(t: pd.DataFrame, beta: float) -> str:
    """" (5 epochs)" after a model's numbers, where the diagnostics say how long it was trained."""
    return f" ({int(t.loc[beta, 'epochs'])} epochs)" if "epochs" in t.columns else ""


def _collapse(inp):
    t = inp.vae.set_index("beta")
    ref = float(t.loc[inp.chosen_beta, "active_units"])
    larger = t[t.index > inp.chosen_beta]
    f = inp.criteria["collapse_fraction"]
    units = ", ".join(f"β={b:g}: {int(u)}{_epochs(t, b)}" for b, u in t["active_units"].items())
    held = len(larger) > 0 and bool((larger["active_units"] < f * ref).all())
    return (float(larger["active_units"].max()) if len(larger) else float("nan"),
            f"active latent units of {int(t['latent_dim'].iloc[0])}: {units}",
            f"every β > {inp.chosen_beta:g} has fewer than {f:.0%} of β = {inp.chosen_beta:g}'s active units", held)


def _closer_to_prior(inp):
    t = inp.vae.set_index("beta")
    smaller = t[t.index < inp.chosen_beta]
    kl = float(t.loc[inp.chosen_beta, "kl_total"])
    others = ", ".join(f"β={b:g}: {v:.1f}{_epochs(t, b)}" for b, v in smaller["kl_total"].items())
    held = len(smaller) > 0 and bool((smaller["kl_total"] > kl).all())
    return (kl, f"KL(q(z|x) ‖ N(0, I)) per sample: β={inp.chosen_beta:g}: {kl:.1f}{_epochs(t, inp.chosen_beta)}; "
                f"{others}",
            f"smaller than every β < {inp.chosen_beta:g}'s", held)


CLAIMS = [
    Claim("3c-xvae-above", "3c", "X_VAE's ε distribution lies above X_IN's", "Fig. 3c",
          (("single_code", "energy"),), _energy_shift("initial")),
    Claim("3c-xprime-overlaps", "3c", "X'_VAE's ε distribution overlaps X_IN's (single-code modification)",
          "Fig. 3c", (("single_code", "energy"),), _energy_shift("final")),
    Claim("3b-nodal-removed", "3b", "single-code modification removes the nodal points of X_VAE", "Fig. 3b",
          (("single_code", "energy"),), _nodal_removed),
    Claim("4d-W-by-W", "4d", "W-maximization raises W over the initial generation", "Fig. 4d",
          (("genetic", "W"),), _w_raised_by("W")),
    Claim("4d-W-by-Mz", "4d", "Mz-maximization raises W (the number of skyrmions, |W|) over the initial generation",
          "Fig. 4d", (("genetic", "Mz"),), _w_raised_by("Mz")),
    Claim("4e-C-raised", "4e", "C-maximization aligns the stripes along a (C raised)", "Fig. 4e",
          (("genetic", "C"),), _c_raised),
    Claim("4g-energy-by-C", "4g", "C-maximization lowers ε", "Fig. 4g", (("genetic", "C"),), _energy_lowered_by("C")),
    Claim("4g-energy-by-energy", "4g", "ε-minimization lowers ε", "Fig. 4g", (("genetic", "energy"),),
          _energy_lowered_by("energy")),
    Claim("4f-gap", "4f", "genetic ε-minimization approaches the spiral ground state (gap)",
          "stripes, the ground state, hard to reach by annealing", (("genetic", "energy"),), _gap("genetic")),
    Claim("5c-gap", "5c", "stochastic ε-minimization approaches the spiral ground state (gap)",
          "perfectly aligned stripes", (("stochastic", "energy"),), _gap("stochastic")),
    Claim("5b-skyrmions", "5b", "stochastic Mz-maximization yields skyrmions", "skyrmions, Fig. 5b",
          (("stochastic", "Mz"),), _skyrmions),
    Claim("5b-peak", "5b", "peak local energy density of the Mz-maximized state", "≈ -1.88",
          (("stochastic", "Mz"),), _peak),
    Claim("5f-relation", "5f", "the Mz-maximized state keeps the W-Mz relation of X_IN", "Fig. 5f",
          (("stochastic", "Mz"),), _relation),
    Claim("5d-C_BC-stable", "5d", "the C_BC-maximized state is energetically stable", "Fig. 5d",
          (("stochastic", "C_BC"),), _bc_stable),
    Claim("6-collapse", "Methods", "VAEs with β > 0.001 suffer posterior collapse", "excluded for collapse",
          ("vae", "larger β"), _collapse),
    Claim("6-closer-to-prior", "Methods", "β = 0.001 gives a latent code closer to N(0, I) than β = 0.0001",
          "chosen for it", ("vae", "smaller β"), _closer_to_prior),
]


def _available(claim: Claim, inp: Inputs) -> str | None:
    """None if the claim can be measured, else what is missing."""
    for need in claim.needs:
        if need == "vae":
            if inp.vae is None or inp.chosen_beta not in set(inp.vae["beta"]):
                return f"VAE diagnostics of β = {inp.chosen_beta:g}"
        elif need in ("larger β", "smaller β"):
            larger = need == "larger β"
            betas = set(inp.vae["beta"]) if inp.vae is not None else set()
            if not any(b > inp.chosen_beta if larger else b < inp.chosen_beta for b in betas):
                return f"a model of β {'>' if larger else '<'} {inp.chosen_beta:g} (add one to vae.betas)"
        elif need not in inp.pairs:
            return f"the pair {need[0]}/{need[1]} (add it to {inp.pairs_key})"
    return None


def _how_searches_ended(claim: Claim, inp: Inputs) -> str:
    """How long each stochastic search the claim reads ran, on which γ schedule (where its store
    records one), and whether it reached the paper's stopping rule (max σ* below
    explore.stochastic.sigma_tol) or the step cap before it: a result of a search cut short, or of
    a shortened schedule, reads as such."""
    notes = []
    for need in claim.needs:
        run = inp.pairs.get(need) if isinstance(need, tuple) and need[0] == "stochastic" else None
        if run is not None and "iterations" in run:
            end = ("converged: max σ* below explore.stochastic.sigma_tol" if int(run.get("converged", 0))
                   else "stopped at explore.stochastic.max_iterations before σ* converged")
            schedule = (f" (γ from {float(run['gamma_start']):g}, × {float(run['gamma_factor']):g} every "
                        f"{int(run['gamma_every']):,} steps)" if "gamma_every" in run else "")
            notes.append(f"the stochastic {need[1]} search ran {int(run['iterations']):,} steps{schedule}, {end}")
    return f" [{'; '.join(notes)}]" if notes else ""


def claims_table(inp: Inputs) -> pd.DataFrame:
    """One row per claim of :data:`CLAIMS`, in order."""
    rows = []
    for c in CLAIMS:
        row = {"id": c.id, "figure": c.figure, "claim": c.claim, "paper": c.paper}
        missing = _available(c, inp)
        if missing:
            row |= {"value": float("nan"), "measured": f"not run: needs {missing}", "criterion": "", "held": NOT_RUN}
        else:
            value, measured, criterion, held = c.measure(inp)
            measured += _how_searches_ended(c, inp)
            row |= {"value": float(value), "measured": measured, "criterion": criterion,
                    "held": "yes" if held else "no"}
        rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS)


def write_claims(config: Mapping, train: str | Path, out: str | Path, *, runs=None,
                 vae: str | Path | None = None, pairs_key: str = "explore.pairs") -> pd.DataFrame:
    """results/claims.csv from X_IN (the first samples of the training data `train`), the explored
    pairs' stores `runs` (as :func:`latentspin.figures.inputs.load_runs` takes them) and the VAE
    diagnostics table `vae`; a claim whose pair is not in `runs` reads "not run", naming the config
    key `pairs_key` to add it to."""
    ham = Hamiltonian.from_config(config["hamiltonian"])
    n_energy, n_w_mz = config["figures"]["x_in"], config["figures"]["x_in_w_mz"]
    data = x_in(train, max(n_energy, n_w_mz))
    data = {"energy": data["energy"][:n_energy], "W": data["W"][:n_w_mz], "Mz": data["Mz"][:n_w_mz]}
    inputs = Inputs(x_in=data, pairs=load_runs(runs), vae=pd.read_csv(vae) if vae else None,
                    ground_state=lattice_ground_state(config["lattice"]["L"], ham)[2] if ham.spiral_is_ground_state
                    else None,
                    chosen_beta=float(config["vae"]["beta"]), criteria=config["claims"],
                    stability=config["explore"]["stability"], pairs_key=pairs_key)
    table = claims_table(inputs)
    write_csv(table, out)
    return table
