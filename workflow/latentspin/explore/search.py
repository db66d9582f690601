"""Running one (algorithm, objective) pair for the workflow: the explorer, the physics of its
states before and after, the relaxation check, and the files.

Output of a pair, in ``results/explore/{algorithm}/{objective}/``: ``trajectory.zarr`` (an xarray
Dataset with the trajectories, the codes and the initial and final states) and
``summary.json`` (one row of ``results/explore/metrics.csv``).

The relaxation check: every final state is relaxed by zero-temperature heat-bath sweeps of the
real Hamiltonian (the annealing kernel at T = 0); if ε, W and Mz barely move, the optimized state
is a stationary state of the physics, not an artefact of the decoder.

The stability check: a stationary state may be a saddle, which zero-temperature sweeps never leave
(the polarized state at zero field: every local field is parallel to its spin). Every final state
is also kicked, heat-bath sweeps at a small temperature and then a quench (``explore.stability``),
and survives if the kick keeps its W and its Mz (within a tolerance) and lowers its ε by less than a
tolerance, all against the same state relaxed by as many zero-temperature sweeps (its control,
``settled_*``): a local minimum does, a saddle decays.

Checkpoints: given a checkpoint file, a search saves its state there every CHECKPOINT_SECONDS, and
a rerun of the same search (same settings, model and device type: its fingerprint) goes on from
the last one and ends bitwise where an uninterrupted run would; a different search ignores it.
SIGTERM or SIGINT saves the current iteration and stops the search (:mod:`latentspin.core.checkpoints`);
one that arrives after its last iteration, while its probes and level samples are decoded
(seconds), lets the job finish.

The decoder check: the output amplitude of every decoded state (the mean length of the decoder's
output before its L2 normalization, :func:`latentspin.vae.model.decoder_amplitude`), beside that of
decoded prior samples z ~ N(0, I). A search that ends far below the prior's amplitude found a
state the network barely produces: the normalization turned a weak output into unit spins.

The latent radius: the length of every decoded state's code in units of √N, the typical length
of a prior code z ~ N(0, I) in N dimensions (:func:`latentspin.vae.model.latent_radius`; 1 for the
prior's samples, 0 at the origin). The encodings μ of the data lie just below 1 (the VAE report's
``data_latent_radius_mean``); a search that ends at several times it decodes codes no training
sample encodes to.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import xarray as xr
from tqdm import tqdm

from latentspin.core.checkpoints import CHECKPOINT_FORMAT, CHECKPOINT_SECONDS, load_checkpoint, stop_on_signals
from latentspin.core.config import ALGORITHMS, GRADIENT_ALGORITHMS, explore_sections, subset
from latentspin.core.devices import resolve_device, set_torch_threads
from latentspin.core.io import save_torch, write_json
from latentspin.core.seeds import derive_seed, sample_keys
from latentspin.core.stores import write_zarr
from latentspin.explore import algorithms, objectives
from latentspin.physics import observables
from latentspin.physics.hamiltonian import Hamiltonian
from latentspin.vae.model import (
    VAE,
    decode_fields_in_batches,
    decoder_amplitude,
    latent_radius,
    load_model,
    output_amplitude,
    weights_digest,
)


@torch.no_grad()
def state_metrics(spins: torch.Tensor, ham: Hamiltonian, objective: objectives.Objective,
                  nodal_threshold: float) -> dict[str, np.ndarray]:
    """Per-state physics of (B, 3, L, L) spins: the objective, then ε, W, Mz, the peak local
    energy density and the nodal points above the threshold (:func:`latentspin.physics.observables.measure`)."""
    measured = observables.measure(spins, ham, nodal_threshold)
    return {"objective": objective.value(spins.double()).cpu().numpy(), **{k: v.numpy() for k, v in measured.items()}}


def _decode(decoder, z: torch.Tensor, device) -> tuple[torch.Tensor, np.ndarray]:
    """Decoded states on the CPU, for the physics, the relaxation and the files, and their output
    amplitudes: one pass of the decoder for both."""
    field = decode_fields_in_batches(decoder, z.to(device))
    return observables.unit_vectors(field, dim=1).cpu(), output_amplitude(field).cpu().numpy()


def _decoded_metrics(c: _Context, codes: torch.Tensor) -> tuple[torch.Tensor, dict[str, np.ndarray]]:
    """The states decoded from codes and their physics (:func:`state_metrics`) with their output
    amplitude and latent radius: what the probes along a path and the level samples record."""
    x, amplitude = _decode(c.decoder, codes, c.device)
    measured = state_metrics(x, c.ham, c.objective, c.nodal_threshold)
    return x, measured | {"amplitude": amplitude, "latent_radius": latent_radius(codes).cpu().numpy()}


@dataclass
class _Context:
    """What every algorithm runner needs; each returns (result of the explorer, codes of the
    initial and final states to report, trajectory variables, coordinates)."""

    decoder: object
    objective: objectives.Objective
    latent_dim: int
    settings: Mapping
    adam_betas: tuple
    generator: torch.Generator
    device: torch.device
    progress: bool
    ham: Hamiltonian
    nodal_threshold: float
    checkpoint: algorithms.SearchCheckpoint | None = None


def _run_single_code(c: _Context):
    s = c.settings
    z0 = torch.randn(s["codes"], c.latent_dim, generator=c.generator, device=c.device)
    out = algorithms.single_code(c.decoder, c.objective, z0, iterations=s["iterations"], lr=s["lr"],
                              betas=c.adam_betas, record_every=s["record_every"], progress=c.progress,
                              checkpoint=c.checkpoint)
    data_vars = {"cost": (("step", "code"), out["cost"].numpy()), "z": (("code", "latent"), out["z"].numpy()),
                 "z_star": (("code", "latent"), out["z_star"].numpy())}
    return out, out["z"], out["z_star"], data_vars, {"step": out["steps"].numpy()}


def _run_genetic(c: _Context):
    s = c.settings
    pop0 = torch.randn(s["population"], c.latent_dim, generator=c.generator, device=c.device)
    pressure = c.objective.pressure if c.objective.pressure is not None else s["pressure"][c.objective.name]
    out = algorithms.genetic(c.decoder, c.objective, pop0, generations=s["generations"],
                          pressure=pressure, mutation_rate=s["mutation_rate"],
                          generator=c.generator, elitism=s["elitism"], snapshots=s["snapshots"], progress=c.progress,
                          checkpoint=c.checkpoint)
    data_vars = {
        "value_min": ("generation", out["stats"][:, 0].numpy()),
        "value_mean": ("generation", out["stats"][:, 1].numpy()),
        "value_max": ("generation", out["stats"][:, 2].numpy()),
        "best_code": (("generation", "latent"), out["best_codes"].numpy()),
        "initial_population": (("individual", "latent"), out["initial"].numpy()),
        "final_population": (("individual", "latent"), out["final"].numpy()),
        "snapshot_spins": (("snapshot", "component", "y", "x"), out["snapshot_states"].numpy()),
    }
    # the physics of both whole populations (paper Fig. 4d, g), and their best individuals
    for when in ("initial", "final"):
        m = state_metrics(_decode(c.decoder, out[when], c.device)[0], c.ham, c.objective, c.nodal_threshold)
        for k in ("objective", "energy", "W", "Mz"):
            data_vars[f"{when}_population_{k}"] = ("individual", m[k])
    data_vars |= _probes(c, out["best_codes"], np.arange(len(out["best_codes"])))
    sign = 1 if c.objective.maximize else -1
    first = int(torch.argmax(sign * out["initial_values"]))
    last = int(torch.argmax(sign * out["final_values"]))
    coords = {"generation": np.arange(len(out["stats"])), "snapshot": out["snapshot_generations"].numpy()}
    return out, out["initial"][first : first + 1], out["final"][last : last + 1], data_vars, coords


def _run_stochastic(c: _Context):
    s = c.settings
    out = algorithms.stochastic(c.decoder, c.objective, c.latent_dim, samples=s["samples"], lr=s["lr"],
                             generator=c.generator, betas=c.adam_betas, gamma_start=s["gamma_start"],
                             gamma_factor=s["gamma_factor"], gamma_every=s["gamma_every"], sigma_tol=s["sigma_tol"],
                             max_iterations=s["max_iterations"], record_every=s["record_every"], device=c.device,
                             progress=c.progress, checkpoint=c.checkpoint)
    data_vars = {k: ("step", out[k].numpy()) for k in ("cost", "kl", "gamma", "sigma_mean", "sigma_max")}
    data_vars["mu_trace"] = (("step", "latent"), out["mu_trace"].numpy())
    data_vars["sigma"] = ("latent", out["sigma"].numpy())
    data_vars |= _probes(c, out["mu_trace"], out["step"].numpy())
    data_vars |= _levels(c, out, s["level_samples"])
    # initial state: the decoded centre of the prior, μ* = 0
    return out, torch.zeros(1, c.latent_dim), out["mu"][None], data_vars, {"step": out["step"].numpy()}


# Decoded samples kept as spins per γ level (the rest are kept as numbers only)
LEVEL_STATES = 3


def _levels(c: _Context, out: dict, n: int) -> dict:
    """The distribution at the end of every γ level and the physics of n codes sampled from it
    (after the search, from its generator): ``level_*`` per level and sample, and the spins of the
    first LEVEL_STATES samples. A search whose μ* decodes to a uniform state may still have sampled
    skyrmions on its way; these show at which γ."""
    data_vars = {k: ("level", out[k].numpy()) for k in ("level_step", "level_gamma")}
    data_vars |= {k: (("level", "latent"), out[k].numpy()) for k in ("level_mu", "level_sigma")}
    if n == 0:
        return data_vars
    z = algorithms.sample_levels(out["level_mu"].to(c.device), out["level_sigma"].to(c.device), n, c.generator)
    levels = z.shape[0]
    x, m = _decoded_metrics(c, z.flatten(0, 1))
    for k, v in m.items():
        data_vars[f"level_{k}"] = (("level", "level_sample"), v.reshape(levels, n))
    kept = min(n, LEVEL_STATES)
    data_vars["level_spins"] = (("level", "level_state", "component", "y", "x"),
                                x.view(levels, n, *x.shape[1:])[:, :kept].numpy())
    return data_vars


def _probes(c: _Context, codes: torch.Tensor, steps: np.ndarray, n: int = 101) -> dict:
    """The physics along the search path: ε, W, Mz and the peak local energy density of the
    state decoded from `codes` (the best individual of a generation, or μ*) at up to n evenly
    spaced recorded steps. It shows where a run passed through, e.g. labyrinths with more
    bubbles before a uniform state."""
    idx = np.unique(np.linspace(0, len(codes) - 1, min(n, len(codes))).round().astype(int))
    _, m = _decoded_metrics(c, codes[idx])
    out = {"probe_step": ("probe", steps[idx])}
    for k in ("objective", "energy", "W", "Mz", "max_local_energy", "amplitude", "latent_radius"):
        out[f"probe_{k}"] = ("probe", m[k])
    return out


# Decoded prior samples z ~ N(0, I) that set the reference output amplitude of the decoder
PRIOR_REFERENCE_CODES = 100


def prior_amplitude(decoder, latent_dim: int, seed: int, device: torch.device | str = "cpu") -> float:
    """Mean output amplitude of the decoder over PRIOR_REFERENCE_CODES prior samples, drawn from
    their own stream (so that the searches' streams are untouched): the same for every pair."""
    g = torch.Generator().manual_seed(derive_seed(seed, "explore", "prior amplitude"))
    z = torch.randn(PRIOR_REFERENCE_CODES, latent_dim, generator=g)
    return float(decoder_amplitude(decoder, z.to(device)).mean())


RUNNERS = {"single_code": _run_single_code, "genetic": _run_genetic, "stochastic": _run_stochastic}


# Relaxations up to this many spin updates run the torch twin of the quench on the CPU: below it,
# numba's start-up (importing it and loading its compiled kernels) costs more than torch's slower
# sweeps lose (docs/benchmarks.md).
TORCH_RELAX_MAX_UPDATES = 2**24


def relax_states(x: torch.Tensor, ham: Hamiltonian, sweeps: int, device: torch.device | str = "cpu",
                 threads: int | None = None) -> torch.Tensor:
    """The relaxation check: `sweeps` zero-temperature sweeps of the real Hamiltonian (the
    annealing kernel's quench) of states x (n, 3, L, L). Runs the torch twin on a GPU or for small
    work, the numba kernel otherwise; the two agree to float32 rounding (tested). Returns float32
    states on the CPU."""
    if _on_torch_twin(x, sweeps, device):
        from latentspin.anneal.heatbath_torch import quench

        return quench(x.to(device, torch.float64), sweeps, ham).float().cpu()
    from latentspin.anneal.driver import relax

    return torch.from_numpy(relax(x.numpy(), ham, sweeps, threads=threads))


def _on_torch_twin(x: torch.Tensor, sweeps: int, device: torch.device | str) -> bool:
    """Whether the checks run the kernel's torch twin: on a GPU, or for at most
    TORCH_RELAX_MAX_UPDATES spin updates on the CPU."""
    return torch.device(device).type == "cuda" or x.shape[0] * x.shape[-1] ** 2 * sweeps <= TORCH_RELAX_MAX_UPDATES


def kick_states(x: torch.Tensor, ham: Hamiltonian, stability: Mapping, keys: np.ndarray,
                device: torch.device | str = "cpu", threads: int | None = None) -> torch.Tensor:
    """The stability check's thermal kick of states x (n, 3, L, L): ``stability["sweeps"]``
    heat-bath sweeps at ``stability["temperature"]``, then ``stability["quench_sweeps"]``
    zero-temperature sweeps, state i with the random stream of keys[i]. The torch twin of the
    kernel on a GPU or for small work (as :func:`relax_states`: numba's start-up would cost more),
    the numba kernel otherwise; the two draw the same random numbers, float rounding apart. Returns
    float32 states on the CPU."""
    T, sweeps, quench_sweeps = stability["temperature"], stability["sweeps"], stability["quench_sweeps"]
    if _on_torch_twin(x, sweeps + quench_sweeps, device):
        from latentspin.anneal.heatbath_torch import chain_batch

        betas = np.full(sweeps, 1.0 / T)
        return chain_batch(x.to(device, torch.float64), keys, betas, quench_sweeps, ham).float().cpu()
    from latentspin.anneal.driver import kick

    return torch.from_numpy(kick(x.numpy(), ham, T, sweeps, quench_sweeps, keys, threads=threads))


def check_states(x: torch.Tensor, ham: Hamiltonian, explore: Mapping, keys: np.ndarray,
                 device: torch.device | str = "cpu", threads: int | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Both checks of states x (n, 3, L, L) with the explore section's settings: relaxed
    (``relax_sweeps`` zero-temperature sweeps), kicked (:func:`kick_states`, state i with keys[i])
    and settled, the kick's control (the relaxed states relaxed on for as many sweeps as the kick
    has in all, so that a state still relaxing is not taken for one that the kick made decay)."""
    stability = explore["stability"]
    relaxed = relax_states(x, ham, explore["relax_sweeps"], device, threads)
    kicked = kick_states(x, ham, stability, keys, device, threads)
    control_sweeps = max(0, stability["sweeps"] + stability["quench_sweeps"] - explore["relax_sweeps"])
    return relaxed, kicked, relax_states(relaxed, ham, control_sweeps, device, threads)


def survived_kick(relaxed: Mapping[str, np.ndarray], kicked: Mapping[str, np.ndarray],
                  stability: Mapping) -> np.ndarray:
    """Per state (bool): whether it survived the kick, i.e. the kick kept its W, moved its Mz by
    at most ``mz_tolerance`` and lowered its ε by less than ``energy_tolerance``, against the state
    relaxed at T = 0 by as many sweeps (a saddle decays: the polarized state at zero field loses its
    Mz and about 0.04 J of ε per spin to a spiral; a skyrmion that unwinds changes W)."""
    r, k = ({q: np.asarray(m[q], dtype=np.float64) for q in ("energy", "W", "Mz")} for m in (relaxed, kicked))
    return ((r["energy"] - k["energy"] < stability["energy_tolerance"])
            & (np.abs(k["Mz"] - r["Mz"]) <= stability["mz_tolerance"]) & (np.round(k["W"]) == np.round(r["W"])))


def search_fingerprint(config: Mapping, algorithm: str, objective_name: str, model: VAE,
                       device: torch.device) -> dict:
    """What defines a search, for its checkpoint: the settings it depends on (for an objective of
    your own, its entry with its function and, from the workflow, its module's digest), the pair,
    the model's weights (a digest) and the device type (a search resumed elsewhere would not end
    bitwise where it would have)."""
    settings = json.loads(json.dumps(subset(config, explore_sections(algorithm, objective_name)), sort_keys=True))
    return {"config": settings, "algorithm": algorithm, "objective": objective_name,
            "model": weights_digest(model.state_dict()), "device": torch.device(device).type}


def _load_checkpoint(path: Path, fingerprint: dict, device: torch.device) -> tuple[dict | None, float]:
    """The explorer state and the seconds already spent of the search `fingerprint` saved at path,
    or (None, 0) where there is none to resume (:func:`latentspin.core.checkpoints.load_checkpoint`)."""
    saved = load_checkpoint(path, fingerprint, "search", map_location=device)
    if saved is None:
        return None, 0.0
    state = saved["state"]
    done = state.get("iteration", state.get("generation"))
    tqdm.write(f"resuming from {path} after {done} iterations ({saved['seconds']:.0f} s)", file=sys.stderr)
    return state, float(saved["seconds"])


def run_pair(config: Mapping, algorithm: str, objective_name: str, model: VAE, *, device: torch.device,
             threads: int | None = None, progress: bool = True, checkpoint: str | Path | None = None,
             checkpoint_seconds: float = CHECKPOINT_SECONDS) -> tuple[xr.Dataset, dict]:
    """Run one pair with `model` (on `device`); returns its dataset and its summary row. With a
    `checkpoint` file the search saves its state there every `checkpoint_seconds` and resumes from
    it (see the module's docstring); the caller removes it once the outputs are written."""
    if algorithm not in RUNNERS:
        raise ValueError(f"unknown algorithm {algorithm!r}; expected one of {ALGORITHMS}")
    ex = config["explore"]
    ham = Hamiltonian.from_config(config["hamiltonian"])
    L = config["lattice"]["L"]
    obj = objectives.build(objective_name, L, ham, ex["objectives"], gradient=algorithm in GRADIENT_ALGORITHMS)
    model = model.to(device).eval()
    for p in model.parameters():
        p.requires_grad_(False)  # gradients flow to the codes only
    seed = derive_seed(config["seed"], "explore", algorithm, objective_name)
    resume, seconds_before, fingerprint = None, 0.0, None
    if checkpoint is not None:  # the model's digest is computed only where a checkpoint needs it
        checkpoint = Path(checkpoint)
        fingerprint = search_fingerprint(config, algorithm, objective_name, model, device)
        resume, seconds_before = _load_checkpoint(checkpoint, fingerprint, device)
    start = time.perf_counter()

    def save(state: dict):
        save_torch({"format": CHECKPOINT_FORMAT, "fingerprint": fingerprint, "state": state,
                    "seconds": seconds_before + time.perf_counter() - start}, checkpoint)

    ctx = _Context(decoder=model.decoder, objective=obj, latent_dim=model.cfg.latent_dim, settings=ex[algorithm],
                   adam_betas=tuple(config["vae"]["training"]["adam_betas"]),
                   generator=torch.Generator(device=device).manual_seed(seed), device=device, progress=progress,
                   ham=ham, nodal_threshold=ex["nodal_threshold"],
                   checkpoint=algorithms.SearchCheckpoint(save if checkpoint else None, checkpoint_seconds, resume,
                                                          name=str(checkpoint) if checkpoint else None))
    with stop_on_signals(ctx.checkpoint, "iteration"):
        out, initial_codes, final_codes, data_vars, coords = RUNNERS[algorithm](ctx)
    seconds = seconds_before + time.perf_counter() - start  # the search's, over every run that made it

    x_initial, amplitude_initial = _decode(model.decoder, initial_codes, device)
    x_final, amplitude_final = _decode(model.decoder, final_codes, device)
    kick_keys = sample_keys(config["seed"], f"stability/{algorithm}/{objective_name}", range(len(x_final)))
    x_relaxed, x_kicked, x_settled = check_states(x_final, ham, ex, kick_keys, device, threads)
    settled = state_metrics(x_settled, ham, obj, ex["nodal_threshold"])
    metrics = {}
    for name, x, codes, amplitude in (("initial", x_initial, initial_codes, amplitude_initial),
                                      ("final", x_final, final_codes, amplitude_final),
                                      ("relaxed", x_relaxed, None, None),  # relaxed and kicked states are not decoded
                                      ("kicked", x_kicked, None, None)):
        metrics[name] = state_metrics(x, ham, obj, ex["nodal_threshold"])
        if codes is not None:
            metrics[name] |= {"amplitude": amplitude, "latent_radius": latent_radius(codes).cpu().numpy()}
        data_vars[f"{name}_spins"] = (("state", "component", "y", "x"), x.numpy())
        for k, v in metrics[name].items():
            data_vars[f"{name}_{k}"] = ("state", v)
    for k, v in settled.items():
        data_vars[f"settled_{k}"] = ("state", v)
    survived = survived_kick(settled, metrics["kicked"], ex["stability"])
    data_vars["survived_kick"] = ("state", survived.astype(np.int8))
    for k, v in obj.arrays.items():  # e.g. S_BC: the figures draw the map the run used
        data_vars[k] = (("component", "y", "x"), v.numpy())
    attrs = {"algorithm": algorithm, "objective": objective_name, "maximize": int(obj.maximize),
             "description": obj.description, "seed": seed, "beta": float(model.extra.get("beta", float("nan"))),
             "L": L, "decodes": int(out["decodes"]), "seconds": seconds, "device": str(device),
             **{f"stability_{k}": v for k, v in ex["stability"].items()},
             "round": int(model.extra.get("retrain_round", 0)),  # of explore.retrain: 0, the paper's decoder
             "prior_amplitude": prior_amplitude(model.decoder, model.cfg.latent_dim, config["seed"], device)}
    if algorithm == "stochastic":
        attrs |= {"converged": int(out["converged"]), "iterations": int(out["iterations"]),
                  **{k: ex["stochastic"][k] for k in ("gamma_start", "gamma_factor", "gamma_every")}}
    summary_attrs = dict(attrs)
    attrs |= {f"objective_{k}": v for k, v in obj.source.items()}  # yours: its function and module, in the store
    ds = xr.Dataset(data_vars, coords=coords, attrs=attrs)

    summary = {**{k: v for k, v in summary_attrs.items() if k != "description"},
               "decodes_per_s": out["decodes"] / seconds}
    for name, m in metrics.items():
        summary[f"{name}_objective"] = float(m["objective"].mean())
        for k in ("energy", "W", "Mz", "max_local_energy", "amplitude", "latent_radius"):
            if k in m:
                summary[f"{name}_{k}"] = float(m[k].mean())
        summary[f"{name}_nodal_points"] = int(m["nodal_points"].sum())
    summary["states"] = int(len(x_final))
    summary["relax_max_spin_change"] = float((x_relaxed - x_final).norm(dim=1).max())
    summary["survived_kick"] = int(survived.sum())  # of summary["states"]
    for k in ("energy", "W", "Mz"):  # the kick's control, what the verdict compares with
        summary[f"settled_{k}"] = float(settled[k].mean())
    return ds, summary


def search_job(config: Mapping, algorithm: str, objective_name: str, model_path: str | Path, out_dir: str | Path, *,
               device: str = "auto", threads: int | None = None, **checkpoint_seconds) -> dict:
    """One search of the workflow: :func:`run_pair` on the model file, written to
    `out_dir`/trajectory.zarr and summary.json. Its state is saved in `out_dir`/checkpoint.pt (not
    an output: it outlives a stopped job, for the rerun) and removed once the outputs are written,
    so that a forced rerun searches afresh. A stopped search raises
    :class:`latentspin.explore.algorithms.SearchStopped` and writes no output; so does one whose
    objective or codes became non-finite, with :class:`latentspin.core.errors.NotFinite`, its
    checkpoint left at the last good state."""
    set_torch_threads(threads)
    dev = resolve_device(device)
    out = Path(out_dir)  # made by the first write into it (latentspin.core.io.atomic)
    checkpoint = out / "checkpoint.pt"
    ds, summary = run_pair(config, algorithm, objective_name, load_model(model_path), device=dev, threads=threads,
                           checkpoint=checkpoint, **checkpoint_seconds)
    write_zarr(ds, out / "trajectory.zarr")
    write_json(summary, out / "summary.json")
    checkpoint.unlink(missing_ok=True)
    return summary
