"""Training of one VAE: one loop, no framework; checkpointed, resumed on rerun.

The checkpoint is written after every epoch, within an epoch every CHECKPOINT_SECONDS (so that a
job stopped within a long epoch, as a paper-scale epoch on a CPU is, loses little of it) and on
SIGTERM or SIGINT (:mod:`latentspin.core.checkpoints`). It holds weights, optimizer state, the random generator,
the history and, within an epoch, the epoch's permutation, batches done and loss sums, with a
fingerprint of everything that defines the run (architecture, hyperparameters, data). A rerun
with the same fingerprint continues where the last one stopped and ends bitwise where an
uninterrupted run would (same device and threads); a different fingerprint starts over.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd
import torch
from tqdm import tqdm

from latentspin.core.checkpoints import (
    CHECKPOINT_FORMAT,
    CHECKPOINT_SECONDS,
    Checkpoint,
    load_checkpoint,
    stop_on_signals,
)
from latentspin.core.devices import resolve_device, set_torch_threads
from latentspin.core.io import save_torch, write_csv
from latentspin.core.seeds import derive_seed
from latentspin.core.stores import load_spins
from latentspin.vae.model import VAE, VAEConfig, kl_divergence, reconstruction_loss, reparameterize, save_model

PRECISIONS = ("float32", "bfloat16")


@dataclass(frozen=True)
class TrainConfig:
    beta: float
    epochs: int = 100
    batch_size: int = 100
    lr: float = 1e-3
    adam_betas: tuple[float, float] = (0.9, 0.999)
    seed: int = 0
    precision: str = "float32"  # or "bfloat16": autocast of the forward pass (weights stay float32)
    compile: bool = False  # encoder and decoder through torch.compile (docs/benchmarks.md)

    def __post_init__(self):
        if not self.beta > 0:
            raise ValueError(f"vae beta must be > 0, got {self.beta}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"vae.training.precision must be one of {PRECISIONS}, got {self.precision!r}")
        object.__setattr__(self, "adam_betas", tuple(self.adam_betas))


def vae_config(config: Mapping) -> VAEConfig:
    return VAEConfig(L=config["lattice"]["L"], **config["vae"]["architecture"])


def train_config(config: Mapping, beta: float) -> TrainConfig:
    v = config["vae"]["training"]
    # one seed per (master seed, beta): models of different beta start from different weights
    seed = derive_seed(config["seed"], "vae", repr(float(beta)))
    return TrainConfig(beta=beta, epochs=v["epochs"], batch_size=v["batch_size"], lr=v["lr"],
                       adam_betas=tuple(v["adam_betas"]), seed=seed, precision=v["precision"],
                       compile=v["compile"])


def training_forward(model: VAE, compile: bool = False, backend: str = "inductor") -> Callable:
    """The forward pass of a training step, (x, generator) -> (x', μ, log σ²): the model itself,
    or with `compile` its encoder and decoder each through torch.compile (one graph per batch
    shape: the last, shorter batch of an epoch compiles once more), the sampling of z between them
    left eager, where its random generator lives. Same function, float rounding apart (tested)."""
    if not compile:
        return model
    encoder = torch.compile(model.encoder, dynamic=False, backend=backend)
    decoder = torch.compile(model.decoder, dynamic=False, backend=backend)

    def forward(x: torch.Tensor, generator: torch.Generator | None = None):
        mu, logvar = encoder(x)
        return decoder(reparameterize(mu, logvar, generator)), mu, logvar

    return forward


def _batches(n: int, size: int):
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


@torch.no_grad()
def evaluate(model: VAE, x: torch.Tensor, batch_size: int) -> dict[str, float]:
    """Validation losses with z = μ (deterministic): L_RC and L_KL, sample-weighted means."""
    model.eval()
    rc = kl = 0.0
    for s in _batches(len(x), batch_size):
        mu, logvar = model.encoder(x[s])
        rc += reconstruction_loss(x[s], model.decoder(mu)).item() * (s.stop - s.start)
        kl += kl_divergence(mu, logvar).item() * (s.stop - s.start)
    return {"rc": rc / len(x), "kl": kl / len(x)}


def _where(saved: Mapping) -> str:
    """The step a saved training state ends, for the log and :class:`Stopped`."""
    if saved["batch"]:
        return f"batch {saved['batch']} of epoch {saved['epoch'] + 1}"
    return f"epoch {saved['epoch']}"


def fit(model: VAE, train_x: torch.Tensor, valid_x: torch.Tensor, tcfg: TrainConfig, checkpoint: str | Path,
        fingerprint: Mapping, *, progress: bool = True, on_epoch_end: Callable[[int], object] | None = None,
        checkpoint_seconds: float = CHECKPOINT_SECONDS) -> pd.DataFrame:
    """Train `model` (already on its device, like the data) for tcfg.epochs, resuming from
    `checkpoint` when its fingerprint matches. Returns the per-epoch history.

    The checkpoint is written after every epoch but the last and, within an epoch, after a batch
    once `checkpoint_seconds` have passed since the last write; SIGTERM or SIGINT writes it after
    the current batch and raises :class:`latentspin.core.checkpoints.Stopped`. A resumed run ends
    bitwise where an uninterrupted one would (same device and threads)."""
    checkpoint = Path(checkpoint)
    device = train_x.device
    optimizer = torch.optim.Adam(model.parameters(), lr=tcfg.lr, betas=tcfg.adam_betas)
    generator = torch.Generator(device=device).manual_seed(tcfg.seed)
    fingerprint = json.loads(json.dumps(fingerprint))  # plain types, comparable after a round trip
    history: list[dict] = []
    start, resume = 0, None
    state = load_checkpoint(checkpoint, fingerprint, "training", map_location=device)
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        generator.set_state(state["generator"].cpu())  # generator states live on the CPU
        history, start = state["history"], state["epoch"]
        resume = state if state.get("batch") else None  # stopped within epoch start + 1
        tqdm.write(f"resuming from {checkpoint} after {_where({'batch': 0} | state)}", file=sys.stderr)
    n = len(train_x)
    batches = list(_batches(n, tcfg.batch_size))
    forward = training_forward(model, tcfg.compile)

    def state(epoch: int, batch: int, perm, sums, seconds: float) -> dict:
        """The whole run after `batch` batches of epoch `epoch` + 1 (batch 0: after epoch `epoch`)."""
        return {"format": CHECKPOINT_FORMAT, "fingerprint": fingerprint, "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "generator": generator.get_state(), "history": history, "epoch": epoch, "batch": batch,
                "perm": perm, "sums": sums, "seconds": seconds}

    ck = Checkpoint(lambda saved: save_torch(saved, checkpoint), checkpoint_seconds, where=_where)
    # counted in batches, so that a long epoch (paper scale on a CPU) shows its rate and the time
    # left long before it ends; refreshed at most every 5 s: a small log
    done = start * len(batches) + (resume["batch"] if resume is not None else 0)
    bar = tqdm(total=tcfg.epochs * len(batches), initial=done, desc=f"train β={tcfg.beta:g}", unit="batch",
               disable=not progress, mininterval=5.0)
    with stop_on_signals(ck, "batch"):
        for epoch in range(start, tcfg.epochs):
            t0 = time.perf_counter()
            model.train()
            last = {f"valid_{k}": f"{history[-1][f'valid_{k}']:.4g}" for k in ("rc", "kl")} if history else {}
            bar.set_postfix(epoch=f"{epoch + 1}/{tcfg.epochs}", **last)  # and the last epoch's validation
            if resume is not None and epoch == start:  # the epoch's permutation and sums so far
                perm, first = resume["perm"].to(device), resume["batch"]
                sums, t0 = resume["sums"].to(device), t0 - resume["seconds"]
            else:
                perm, first = torch.randperm(n, generator=generator, device=device), 0
                # summed on the device, read once per epoch: no host-device synchronization per
                # batch (float64 sums of the float32 losses, the same numbers as Python floats give)
                sums = torch.zeros(2, dtype=torch.float64, device=device)
            for b in range(first, len(batches)):
                x = train_x[perm[batches[b]]]
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=tcfg.precision == "bfloat16"):
                    x_out, mu, logvar = forward(x, generator)
                # the losses in float32 whatever the forward pass's precision
                rc, kl = reconstruction_loss(x, x_out.float()), kl_divergence(mu.float(), logvar.float())
                loss = rc + tcfg.beta * kl
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                sums += torch.stack([rc.detach(), kl.detach()]).double() * len(x)
                bar.update(1)
                if b + 1 < len(batches):  # the epoch's end is saved below, with its history row
                    ck(lambda: state(epoch, b + 1, perm, sums, time.perf_counter() - t0))
            rc_sum, kl_sum = sums.tolist()
            valid = evaluate(model, valid_x, tcfg.batch_size)
            row = {"epoch": epoch + 1, "train_rc": rc_sum / n, "train_kl": kl_sum / n,
                   "train_loss": (rc_sum + tcfg.beta * kl_sum) / n, "valid_rc": valid["rc"],
                   "valid_kl": valid["kl"], "seconds": time.perf_counter() - t0}
            history.append(row)
            if epoch + 1 < tcfg.epochs:  # a finished run is written by its caller, not resumed
                ck(lambda: state(epoch + 1, 0, None, None, 0.0), due=True)
            if on_epoch_end is not None:
                on_epoch_end(epoch + 1)
    bar.close()
    return pd.DataFrame(history)


def train_beta(config: Mapping, beta: float, train_path, valid_path, out_dir, *, device: str = "auto",
               threads: int | None = None, progress: bool = True,
               checkpoint_seconds: float = CHECKPOINT_SECONDS) -> Path:
    """Train the model of one β and write ``model.pt`` and ``history.csv`` into out_dir (and
    ``checkpoint.pt`` while it trains, every `checkpoint_seconds`: see :func:`fit`)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    set_torch_threads(threads)
    dev = resolve_device(device)
    cfg, tcfg = vae_config(config), train_config(config, beta)
    train_x, train_attrs = load_spins(train_path, dev)
    valid_x, _ = load_spins(valid_path, dev)
    if train_x.shape[-1] != cfg.L:
        raise ValueError(f"data at {train_path} has L = {train_x.shape[-1]}, config lattice.L = {cfg.L}")
    torch.manual_seed(tcfg.seed)  # weight initialization
    model = VAE(cfg).to(dev)
    fingerprint = {"vae": cfg.as_dict(), "train": asdict(tcfg), "n_train": len(train_x), "n_valid": len(valid_x),
                   "data": {k: train_attrs.get(k) for k in ("seed", "L", "J", "D", "dmi", "schedule")}}
    checkpoint = out_dir / "checkpoint.pt"
    history = fit(model, train_x, valid_x, tcfg, checkpoint, fingerprint, progress=progress,
                  checkpoint_seconds=checkpoint_seconds)
    save_model(model.cpu(), out_dir / "model.pt",
               extra={"beta": beta, "train": asdict(tcfg), "epochs_trained": len(history), "device": str(dev)})
    write_csv(history, out_dir / "history.csv")
    checkpoint.unlink(missing_ok=True)  # done: a forced rerun trains afresh
    return out_dir / "model.pt"
