"""Beyond the paper: weighted retraining of the decoder on what the searches found.

A search can only find what its decoder renders. Where the optimum lies outside the decoder's
range, the search stops at the edge of it; the real Hamiltonian can carry a found state further
(zero-temperature relaxation, in a field say, turns a tilted state towards the field), and a
decoder fine-tuned on those relaxed states renders them, so that the next search starts from a
wider range. This is weighted retraining (Tripp, Daxberger and Hernández-Lobato, NeurIPS 2020):
the training pool (the original data and the relaxed states of the searches: their final states
and their γ levels' samples) is weighted by rank
of objective, w_i ∝ 1 / (k N + rank_i) with rank 0 the best, and the decoder is trained on a
resample of the pool drawn with those weights. A small k lets the best states dominate; as k grows
the weights flatten towards the plain data. Validated on the original validation data, whose L_RC
shows whether the decoder forgets the data it learnt.

This module holds the round's parts; one round is: search (:mod:`latentspin.explore.search`),
relax, :func:`fine_tune`, search again.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd
import torch
from torch import Tensor

from latentspin.core.devices import resolve_device, set_torch_threads
from latentspin.core.io import write_csv, write_json
from latentspin.core.seeds import derive_seed
from latentspin.core.stores import load_spins, open_dataset, read_values
from latentspin.explore import objectives
from latentspin.physics.hamiltonian import Hamiltonian
from latentspin.vae.diagnostics import decode_prior, diversity
from latentspin.vae.model import VAE, load_model, save_model
from latentspin.vae.training import TrainConfig, evaluate, fit


def rank_weights(values: Tensor, maximize: bool, k: float) -> Tensor:
    """Weights (float64, summing to 1) of a pool of N states by the rank of their objective
    `values`: w_i ∝ 1 / (k N + rank_i), rank 0 the best (the largest if `maximize`); equal values
    are ranked in pool order. k > 0."""
    if not k > 0:
        raise ValueError(f"the rank-weighting k must be > 0, got {k}")
    values = torch.as_tensor(values, dtype=torch.float64).reshape(-1)
    if not torch.isfinite(values).all():
        raise ValueError("objective values to rank must be finite")
    n = len(values)
    order = torch.argsort(values, descending=maximize, stable=True)
    rank = torch.empty(n, dtype=torch.float64)
    rank[order] = torch.arange(n, dtype=torch.float64)
    w = 1.0 / (k * n + rank)
    return w / w.sum()


# A pool: states (N, 3, L, L), or several such parts taken as one in order (the training data and
# the found states, never concatenated: at the paper's scale the data alone are 5.9 GB)
Pool = Tensor | Sequence[Tensor]


def _parts(pool_x: Pool) -> list[Tensor]:
    return [pool_x] if isinstance(pool_x, Tensor) else list(pool_x)


def _take(pool_x: Pool, index: Tensor) -> Tensor:
    """The pool's states at `index` (into the parts taken as one), as one new tensor."""
    parts = _parts(pool_x)
    out = torch.empty((len(index), *parts[0].shape[1:]), dtype=parts[0].dtype, device=parts[0].device)
    start = 0
    for part in parts:
        inside = (index >= start) & (index < start + len(part))
        out[inside.to(out.device)] = part[(index[inside] - start).to(part.device)]
        start += len(part)
    return out


def retraining_set(pool_x: Pool, pool_values: Tensor, maximize: bool, k: float, size: int,
                   generator: torch.Generator) -> Tensor:
    """`size` states drawn with replacement from the pool (N, 3, L, L), or its parts taken as one,
    with probabilities :func:`rank_weights` of their objective values."""
    return _take(pool_x, _draw(pool_x, pool_values, maximize, k, size, generator))


def _draw(pool_x: Pool, pool_values: Tensor, maximize: bool, k: float, size: int,
          generator: torch.Generator) -> Tensor:
    n = sum(len(part) for part in _parts(pool_x))
    if n != len(pool_values):
        raise ValueError(f"one objective value per state: {len(pool_values)} values for {n} states")
    return torch.multinomial(rank_weights(pool_values, maximize, k), size, replacement=True, generator=generator)


def fine_tune(model: VAE, pool_x: Pool, pool_values: Tensor, maximize: bool, valid_x: Tensor, *, k: float,
              epochs: int, lr: float, batch_size: int, seed: int, checkpoint: str | Path,
              size: int | None = None, progress: bool = False) -> tuple[VAE, pd.DataFrame]:
    """A copy of `model` trained on for `epochs` on a rank-weighted resample of the pool (`size`
    states, default the pool's size; the pool may come in parts, as :func:`retraining_set`), with
    the model's own β and Adam at `lr`, validated on `valid_x` (the original data's validation
    split: its L_RC per epoch tells whether the decoder forgets it). Resumable from `checkpoint`
    like any training. Returns the model (evaluation mode) and its history."""
    generator = torch.Generator().manual_seed(seed)
    size = size or len(pool_values)
    drawn = _draw(pool_x, pool_values, maximize, k, size, generator)
    x = _take(pool_x, drawn)
    # what the resample is made of, for the checkpoint: a checkpoint of another pool is not resumed
    digest = hashlib.sha256(torch.as_tensor(pool_values, dtype=torch.float64).numpy().tobytes()
                            + drawn.numpy().tobytes()).hexdigest()
    tuned = copy.deepcopy(model).train()
    for p in tuned.parameters():
        p.requires_grad_(True)
    beta = float(model.extra["beta"])
    tcfg = TrainConfig(beta=beta, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed)
    fingerprint: Mapping = {"retrain": {"k": k, "epochs": epochs, "lr": lr, "batch_size": batch_size, "seed": seed,
                                        "pool": len(pool_values), "size": len(x), "beta": beta, "drawn": digest}}
    history = fit(tuned, x, valid_x, tcfg, checkpoint, fingerprint, progress=progress)
    tuned.extra = dict(model.extra)
    return tuned.eval(), history


def found_states(run_path: str | Path) -> tuple[Tensor, Tensor]:
    """What a search adds to the pool: each final state as the physics left it, the relaxed state
    where it survived the stability check's kick, the kicked one where it did not (a saddle: the
    kick found the lower state it decays to), so that the pool holds local minima only as far as
    the checks tell; and whether each survived. A trajectory without the stability check (made
    before it existed) gives its relaxed states."""
    ds = open_dataset(run_path)
    relaxed = torch.from_numpy(read_values(ds, "relaxed_spins", run_path))
    if "survived_kick" not in ds:
        return relaxed, torch.ones(len(relaxed), dtype=torch.bool)
    survived = torch.from_numpy(read_values(ds, "survived_kick", run_path)).bool()
    kicked = torch.from_numpy(read_values(ds, "kicked_spins", run_path))
    return torch.where(survived[:, None, None, None], relaxed, kicked), survived


def found_level_states(run_path: str | Path, config: Mapping, threads: int | None = None) -> tuple[Tensor, Tensor]:
    """What a stochastic search's γ levels add to the pool: the kept samples of every level's
    distribution N(μ*, σ*²), decoded by the search, through the same checks as its final states
    (:func:`latentspin.explore.search.check_states`, with the random streams
    ``stability/{algorithm}/{objective}/levels``): relaxed where they survive the kick, kicked where
    not; and whether each survived. The broad early levels hold what the end of the search does not
    (at the quick preset the Mz search's samples at γ = 0.01 are skyrmion lattices with Mz 0.4,
    while μ* ends uniform). Nothing for a search without levels."""
    from latentspin.core.seeds import sample_keys
    from latentspin.explore.search import check_states, survived_kick
    from latentspin.physics import observables

    ds = open_dataset(run_path)
    if "level_spins" not in ds or ds["level_spins"].shape[0] == 0:
        return torch.empty(0), torch.empty(0, dtype=torch.bool)
    spins = read_values(ds, "level_spins", run_path)
    x = torch.from_numpy(spins.reshape(-1, *spins.shape[-3:]))
    x = x[torch.isfinite(x).flatten(1).all(dim=1)]  # levels the search never reached are NaN
    ham = Hamiltonian.from_config(config["hamiltonian"])
    keys = sample_keys(config["seed"], f"stability/{ds.attrs['algorithm']}/{ds.attrs['objective']}/levels",
                       range(len(x)))
    relaxed, kicked, settled = check_states(x, ham, config["explore"], keys, threads=threads)
    survived = torch.from_numpy(survived_kick(*({k: v.numpy() for k, v in observables.measure(s, ham).items()}
                                                for s in (settled, kicked)), config["explore"]["stability"]))
    return torch.where(survived[:, None, None, None], relaxed, kicked), survived


def objective_values(objective, x: Tensor, batch_size: int = 256) -> Tensor:
    """The objective of every state of x, in float64, batch by batch."""
    with torch.no_grad():
        return torch.cat([objective.value(x[s:s + batch_size].double()).cpu() for s in range(0, len(x), batch_size)])


def retrain_job(config: Mapping, objective_name: str, round_number: int, model_path: str | Path, train: str | Path,
                valid: str | Path, runs: Mapping[str, str | Path], out_dir: str | Path, *, device: str = "auto",
                threads: int | None = None, progress: bool = True) -> dict:
    """One round's decoder for one objective (``explore.retrain``): the previous round's decoder
    (round 1: the chosen β's) fine-tuned on the training data and what the previous round's searches
    of this objective found (:func:`found_states` and, of a stochastic search, its γ levels'
    samples, :func:`found_level_states`; one trajectory per algorithm in `runs`), weighted by rank
    of the objective. Writes `out_dir`/model.pt, history.csv (its validation L_RC on the
    original data per epoch) and pool.json; its checkpoint, `out_dir`/checkpoint.pt, is removed once
    they are written."""

    set_torch_threads(threads)
    dev = resolve_device(device)
    L, settings = config["lattice"]["L"], config["explore"]["retrain"]
    ham = Hamiltonian.from_config(config["hamiltonian"])
    objective = objectives.build(objective_name, L, ham, config["explore"]["objectives"])
    model = load_model(model_path).to(dev)
    train_x, _ = load_spins(train, L=L)
    valid_x, _ = load_spins(valid, dev, L=L)
    found, survived, sources = [], [], []
    for algorithm, path in sorted(runs.items()):
        for states, kept, source in ((*found_states(path), algorithm),
                                     (*found_level_states(path, config, threads), f"{algorithm} levels")):
            found.append(states)
            survived.append(kept)
            sources += [source] * len(states)
    found_x = torch.cat([f for f in found if len(f)]).float()
    values = torch.cat([objective_values(objective, train_x), objective_values(objective, found_x)])
    weights = rank_weights(values, objective.maximize, settings["k"])
    out = Path(out_dir)  # made by the first write into it (latentspin.core.io.atomic)
    checkpoint = out / "checkpoint.pt"
    seed = derive_seed(config["seed"], "retrain", objective_name, str(round_number))
    batch_size = config["vae"]["training"]["batch_size"]
    valid_rc_before = evaluate(model, valid_x, batch_size)["rc"]
    # guard against a decoder collapsing onto one state: the diversity of decoded prior samples
    prior = config["vae"]["diagnostics"]["prior_samples"], derive_seed(config["seed"], "retrain-prior")
    diversity_before = diversity(decode_prior(model, *prior, batch_size))
    tuned, history = fine_tune(model, (train_x.to(dev), found_x.to(dev)), values, objective.maximize, valid_x,
                               k=settings["k"], epochs=settings["epochs"], lr=settings["lr"], batch_size=batch_size,
                               seed=seed, checkpoint=checkpoint, size=len(train_x), progress=progress)
    n = len(train_x)
    summary = {"objective": objective_name, "round": round_number, "maximize": int(objective.maximize),
               "data_states": n, "found_states": len(found_x), "found_survived_kick": int(torch.cat(survived).sum()),
               "found_by": sources, "found_objective": values[n:].tolist(),
               "data_objective_best": float(values[:n].max() if objective.maximize else values[:n].min()),
               "found_weight": float(weights[n:].sum()), "k": settings["k"], "epochs": settings["epochs"],
               "valid_rc_before": valid_rc_before,
               "valid_rc": float(history["valid_rc"].iloc[-1]), "prior_diversity_before": diversity_before,
               "prior_diversity": diversity(decode_prior(tuned, *prior, batch_size)),
               "seconds": float(history["seconds"].sum())}
    save_model(tuned.cpu(), out / "model.pt", {**model.extra, "retrain_round": round_number,
                                               "retrain_objective": objective_name})
    write_csv(history, out / "history.csv")
    write_json(summary, out / "pool.json")
    checkpoint.unlink(missing_ok=True)
    return summary
