"""Running one (algorithm, objective) pair for the workflow: the explorer, the physics of its
states before and after, the relaxation check, and the files.

Output of a pair, in ``results/explore/{algorithm}/{objective}/``: ``trajectory.zarr`` (an xarray
Dataset with the trajectories, the codes and the initial and final states) and
``summary.json`` (one row of ``results/explore/metrics.csv``).

The relaxation check: every final state is relaxed by zero-temperature heat-bath sweeps of the
real Hamiltonian (the annealing kernel at T = 0); if ε, W and Mz barely move, the optimized state
is a metastable state of the physics, not an artefact of the decoder.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import numpy as np
import pandas as pd
import torch
import xarray as xr

from . import explore, objectives, physics
from .config import ALGORITHMS, OBJECTIVES
from .montecarlo import relax
from .outputs import derive_seed
from .physics import Hamiltonian
from .vae import VAE

@torch.no_grad()
def state_metrics(spins: torch.Tensor, ham: Hamiltonian, objective: objectives.Objective,
                  nodal_threshold: float) -> dict[str, np.ndarray]:
    """Per-state physics of (B, 3, L, L) spins: the objective, ε, W, Mz, the peak local energy
    density, and the nodal points above the threshold."""
    x = spins.double()
    local = physics.local_energy_density(x, ham)
    return {
        "objective": objective.value(x).cpu().numpy(),
        "energy": physics.energy_density(x, ham).cpu().numpy(),
        "W": physics.topological_index(x).cpu().numpy(),
        "Mz": physics.magnetization_z(x).cpu().numpy(),
        "max_local_energy": local.amax(dim=(-2, -1)).cpu().numpy(),
        "nodal_points": physics.nodal_points(local, nodal_threshold).cpu().numpy(),
    }


def _decode(decoder, z: torch.Tensor, device, batch_size: int = 100) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([decoder(z[s : s + batch_size].to(device)).cpu() for s in range(0, len(z), batch_size)])


def run_pair(config: Mapping, algorithm: str, objective_name: str, model: VAE, *, device: torch.device,
             threads: int | None = None, progress: bool = True) -> tuple[xr.Dataset, dict]:
    """Run one pair with `model` (on `device`); returns its dataset and its summary row."""
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {algorithm!r}; expected one of {ALGORITHMS}")
    ex = config["explore"]
    ham = Hamiltonian.from_config(config["hamiltonian"])
    L = config["lattice"]["L"]
    obj = objectives.build(objective_name, L, ham, ex["objectives"])
    model = model.to(device).eval()
    for p in model.parameters():
        p.requires_grad_(False)  # gradients flow to the codes only
    decoder = model.decoder
    N = model.cfg.latent_dim
    betas = config["vae"]["training"]["adam_betas"]
    seed = derive_seed(config["seed"], "explore", algorithm, objective_name)
    generator = torch.Generator(device=device).manual_seed(seed)
    settings = ex[algorithm]
    start = time.perf_counter()
    coords: dict = {}
    if algorithm == "single_code":
        z0 = torch.randn(settings["codes"], N, generator=generator, device=device)
        out = explore.single_code(decoder, obj, z0, iterations=settings["iterations"], lr=settings["lr"],
                                  betas=betas, record_every=settings["record_every"], progress=progress)
        initial_codes, final_codes = out["z"], out["z_star"]
        data_vars = {"cost": (("step", "code"), out["cost"].numpy()), "z": (("code", "latent"), out["z"].numpy()),
                     "z_star": (("code", "latent"), out["z_star"].numpy())}
        coords["step"] = out["steps"].numpy()
    elif algorithm == "genetic":
        pressure = settings["pressure"][objective_name]
        pop0 = torch.randn(settings["population"], N, generator=generator, device=device)
        out = explore.genetic(decoder, obj, pop0, generations=settings["generations"], pressure=pressure,
                              mutation_rate=settings["mutation_rate"], generator=generator,
                              elitism=settings["elitism"], snapshots=settings["snapshots"], progress=progress)
        initial_codes, final_codes = out["initial"], out["final"]
        data_vars = {
            "value_min": ("generation", out["stats"][:, 0].numpy()),
            "value_mean": ("generation", out["stats"][:, 1].numpy()),
            "value_max": ("generation", out["stats"][:, 2].numpy()),
            "best_code": (("generation", "latent"), out["best_codes"].numpy()),
            "initial_population": (("individual", "latent"), out["initial"].numpy()),
            "final_population": (("individual", "latent"), out["final"].numpy()),
            "snapshot_spins": (("snapshot", "component", "y", "x"), out["snapshot_states"].numpy()),
        }
        coords["generation"] = np.arange(len(out["stats"]))
        coords["snapshot"] = out["snapshot_generations"].numpy()
    else:
        out = explore.stochastic(decoder, obj, N, samples=settings["samples"], lr=settings["lr"],
                                 generator=generator, betas=betas, gamma_start=settings["gamma_start"],
                                 gamma_factor=settings["gamma_factor"], gamma_every=settings["gamma_every"],
                                 sigma_tol=settings["sigma_tol"], max_iterations=settings["max_iterations"],
                                 record_every=settings["record_every"], device=device, progress=progress)
        initial_codes, final_codes = torch.zeros(1, N), out["mu"][None]
        data_vars = {k: ("step", out[k].numpy()) for k in ("cost", "kl", "gamma", "sigma_mean", "sigma_max")}
        data_vars["mu_trace"] = (("step", "latent"), out["mu_trace"].numpy())
        data_vars["sigma"] = ("latent", out["sigma"].numpy())
        coords["step"] = out["step"].numpy()
    seconds = time.perf_counter() - start

    if algorithm == "genetic":  # the best individual of the first and of the last generation
        first = int(torch.argmax(out["initial_values"] if obj.maximize else -out["initial_values"]))
        last = int(torch.argmax(out["final_values"] if obj.maximize else -out["final_values"]))
        initial_codes, final_codes = initial_codes[first : first + 1], final_codes[last : last + 1]
        pop_initial = state_metrics(_decode(decoder, out["initial"], device), ham, obj, ex["nodal_threshold"])
        pop_final = state_metrics(_decode(decoder, out["final"], device), ham, obj, ex["nodal_threshold"])
        for k in ("objective", "energy", "W", "Mz"):
            data_vars[f"initial_population_{k}"] = ("individual", pop_initial[k])
            data_vars[f"final_population_{k}"] = ("individual", pop_final[k])
    x_initial = _decode(decoder, initial_codes, device)
    x_final = _decode(decoder, final_codes, device)
    x_relaxed = torch.from_numpy(relax(x_final.numpy(), ham, ex["relax_sweeps"], threads=threads))
    metrics = {name: state_metrics(x, ham, obj, ex["nodal_threshold"])
               for name, x in (("initial", x_initial), ("final", x_final), ("relaxed", x_relaxed))}
    for name, x in (("initial", x_initial), ("final", x_final), ("relaxed", x_relaxed)):
        data_vars[f"{name}_spins"] = (("state", "component", "y", "x"), x.numpy())
        for k, v in metrics[name].items():
            data_vars[f"{name}_{k}"] = ("state", v)
    attrs = {"algorithm": algorithm, "objective": objective_name, "maximize": int(obj.maximize),
             "description": obj.description, "seed": seed, "beta": float(model.extra.get("beta", float("nan"))),
             "L": L, "decodes": int(out["decodes"]), "seconds": seconds, "device": str(device)}
    if algorithm == "stochastic":
        attrs |= {"converged": int(out["converged"]), "iterations": int(out["iterations"])}
    ds = xr.Dataset(data_vars, coords=coords, attrs=attrs)

    summary = {**{k: v for k, v in attrs.items() if k != "description"}, "decodes_per_s": out["decodes"] / seconds}
    for name, m in metrics.items():
        summary[f"{name}_objective"] = float(m["objective"].mean())
        for k in ("energy", "W", "Mz", "max_local_energy"):
            summary[f"{name}_{k}"] = float(m[k].mean())
        summary[f"{name}_nodal_points"] = int(m["nodal_points"].sum())
    summary["states"] = int(len(x_final))
    summary["relax_max_spin_change"] = float((x_relaxed - x_final).norm(dim=1).max())
    return ds, summary


def metrics_table(summaries: list[Mapping]) -> pd.DataFrame:
    """One row per pair (results/explore/metrics.csv)."""
    order = {a: i for i, a in enumerate(ALGORITHMS)}
    rows = sorted(summaries, key=lambda s: (order[s["algorithm"]], OBJECTIVES.index(s["objective"])))
    return pd.DataFrame(rows)
