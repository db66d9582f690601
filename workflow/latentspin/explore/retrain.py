"""Beyond the paper: weighted retraining of the decoder on what the searches found.

A search can only find what its decoder renders. Where the optimum lies outside the decoder's
range, the search stops at the edge of it; the real Hamiltonian can carry a found state further
(zero-temperature relaxation, in a field say, turns a tilted state towards the field), and a
decoder fine-tuned on those relaxed states renders them, so that the next search starts from a
wider range. This is weighted retraining (Tripp, Daxberger and Hernández-Lobato, NeurIPS 2020):
the training pool (the original data and the relaxed states of the searches) is weighted by rank
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
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
import torch
from torch import Tensor

from latentspin.vae.model import VAE
from latentspin.vae.training import TrainConfig, fit


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


def retraining_set(pool_x: Tensor, pool_values: Tensor, maximize: bool, k: float, size: int,
                   generator: torch.Generator) -> Tensor:
    """`size` states drawn with replacement from the pool (N, 3, L, L) with probabilities
    :func:`rank_weights` of their objective values."""
    return pool_x[_draw(pool_x, pool_values, maximize, k, size, generator).to(pool_x.device)]


def _draw(pool_x: Tensor, pool_values: Tensor, maximize: bool, k: float, size: int,
          generator: torch.Generator) -> Tensor:
    if len(pool_x) != len(pool_values):
        raise ValueError(f"one objective value per state: {len(pool_values)} values for {len(pool_x)} states")
    return torch.multinomial(rank_weights(pool_values, maximize, k), size, replacement=True, generator=generator)


def fine_tune(model: VAE, pool_x: Tensor, pool_values: Tensor, maximize: bool, valid_x: Tensor, *, k: float,
              epochs: int, lr: float, batch_size: int, seed: int, checkpoint: str | Path,
              size: int | None = None, progress: bool = False) -> tuple[VAE, pd.DataFrame]:
    """A copy of `model` trained on for `epochs` on a rank-weighted resample of the pool (`size`
    states, default the pool's size), with the model's own β and Adam at `lr`, validated on
    `valid_x` (the original data's validation split: its L_RC per epoch tells whether the decoder
    forgets it). Resumable from `checkpoint` like any training. Returns the model (evaluation mode)
    and its history."""
    generator = torch.Generator().manual_seed(seed)
    size = size or len(pool_x)
    drawn = _draw(pool_x, pool_values, maximize, k, size, generator)
    x = pool_x[drawn.to(pool_x.device)]
    # what the resample is made of, for the checkpoint: a checkpoint of another pool is not resumed
    digest = hashlib.sha256(torch.as_tensor(pool_values, dtype=torch.float64).numpy().tobytes()
                            + drawn.numpy().tobytes()).hexdigest()
    tuned = copy.deepcopy(model).train()
    for p in tuned.parameters():
        p.requires_grad_(True)
    beta = float(model.extra["beta"])
    tcfg = TrainConfig(beta=beta, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed)
    fingerprint: Mapping = {"retrain": {"k": k, "epochs": epochs, "lr": lr, "batch_size": batch_size, "seed": seed,
                                        "pool": len(pool_x), "size": len(x), "beta": beta, "drawn": digest}}
    history = fit(tuned, x, valid_x, tcfg, checkpoint, fingerprint, progress=progress)
    tuned.extra = dict(model.extra)
    return tuned.eval(), history
