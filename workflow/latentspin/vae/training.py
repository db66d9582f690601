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
import math
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
from latentspin.core.errors import NotFinite
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


class _FirstFault:
    """The first batch of an epoch whose loss (L_RC, L_KL or their sum) or gradient is not finite,
    recorded on the device, so that watching costs no host-device synchronization per batch: read
    (:meth:`check`) before every checkpoint and at the epoch's end, where the loss sums are read.

    ``record``: (batch number from 1, L_RC, L_KL, loss, gradient norm), all 0 while every batch
    was finite. The gradient norm is the L2 norm of all gradients together, as gradient clipping
    takes it (one fused kernel on a GPU): NaN or infinite where a gradient is, and infinite also
    where float32 squares overflow (gradients beyond 1e19, as bad); taking it changes neither the
    gradients nor the update."""

    def __init__(self, n_batches: int, device: torch.device):
        self.numbers = torch.arange(1, n_batches + 1, dtype=torch.float64, device=device)
        self.record = torch.zeros(5, dtype=torch.float64, device=device)

    def see(self, b: int, rc: torch.Tensor, kl: torch.Tensor, loss: torch.Tensor, params: list[torch.Tensor]):
        """Batch index `b` (from 0) of the epoch, after its backward pass."""
        grads = [p.grad for p in params if p.grad is not None]
        norms = torch.stack(torch._foreach_norm(grads)).double()
        row = torch.cat([self.numbers[b : b + 1], torch.stack([rc.detach(), kl.detach(), loss.detach()]).double(),
                         torch.linalg.vector_norm(norms)[None]])
        first = ~torch.isfinite(row[1:].sum()) & (self.record[0] == 0)
        self.record = torch.where(first, row, self.record)

    def check(self, describe: Callable[[list[float]], str], record: list[float] | None = None):
        """Raise :class:`NotFinite` with `describe`'s message if a batch went bad (`record`: the
        record already read, e.g. with the epoch's loss sums in one read)."""
        record = self.record.tolist() if record is None else record
        if record[0]:
            raise NotFinite(describe(record))


def fit(model: VAE, train_x: torch.Tensor, valid_x: torch.Tensor, tcfg: TrainConfig, checkpoint: str | Path,
        fingerprint: Mapping, *, progress: bool = True, on_epoch_end: Callable[[int], object] | None = None,
        checkpoint_seconds: float = CHECKPOINT_SECONDS) -> pd.DataFrame:
    """Train `model` (already on its device, like the data) for tcfg.epochs, resuming from
    `checkpoint` when its fingerprint matches. Returns the per-epoch history.

    The checkpoint is written after every epoch but the last and, within an epoch, after a batch
    once `checkpoint_seconds` have passed since the last write; SIGTERM or SIGINT writes it after
    the current batch and raises :class:`latentspin.core.checkpoints.Stopped`. A resumed run ends
    bitwise where an uninterrupted one would (same device and threads).

    A batch whose loss or gradient is not finite (NaN or infinite) stops the training with
    :class:`latentspin.core.errors.NotFinite` naming its epoch and batch: found before the next
    checkpoint would be written or at the epoch's end, whichever comes first, so that the
    checkpoint keeps the last good state; the weights in memory are bad by then, and the caller
    writes no model. So does a non-finite validation loss."""
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
    # the state the checkpoint file holds for this run, for the message of a non-finite batch
    kept = [_where({"batch": 0} | state) if state is not None else None]
    n = len(train_x)
    batches = list(_batches(n, tcfg.batch_size))
    forward = training_forward(model, tcfg.compile)

    def state(epoch: int, batch: int, perm, sums, seconds: float) -> dict:
        """The whole run after `batch` batches of epoch `epoch` + 1 (batch 0: after epoch `epoch`)."""
        return {"format": CHECKPOINT_FORMAT, "fingerprint": fingerprint, "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "generator": generator.get_state(), "history": history, "epoch": epoch, "batch": batch,
                "perm": perm, "sums": sums, "seconds": seconds}

    def save(saved: dict):
        save_torch(saved, checkpoint)
        kept[0] = _where(saved)

    params = [p for p in model.parameters() if p.requires_grad]
    fault = _FirstFault(len(batches), device)

    def stop_message(what: str, advice: str) -> str:
        held = (f"{checkpoint} keeps the state after {kept[0]}" if kept[0] is not None
                else "no checkpoint of this training was saved yet")
        return f"training β={tcfg.beta:g}: non-finite {what}; {held}; no model was written. {advice}"

    def not_finite(epoch: int) -> Callable[[list[float]], str]:
        def describe(record: list[float]) -> str:
            b, rc, kl, loss, grad = record
            if math.isfinite(rc + kl + loss):  # the loss was finite, its gradient not
                what = f"gradient norm ({grad:.4g}) at batch {b:.0f} of epoch {epoch + 1} (loss {loss:.4g})"
            else:
                what = f"loss ({loss:.4g}) at batch {b:.0f} of epoch {epoch + 1} (L_RC {rc:.4g}, L_KL {kl:.4g})"
            hint = " or train in float32 (vae.training.precision)" if tcfg.precision != "float32" else ""
            return stop_message(what, f"Check the data or lower vae.training.lr{hint}")

        return describe

    def checked_state(epoch: int, batch: int, perm, sums, seconds: float) -> dict:
        """:func:`state`, once no batch of the epoch so far went bad: a bad state is never saved."""
        fault.check(not_finite(epoch))
        return state(epoch, batch, perm, sums, seconds)

    ck = Checkpoint(save, checkpoint_seconds, where=_where)
    # counted in batches, so that a long epoch (paper scale on a CPU) shows its rate and the time
    # left long before it ends; refreshed at most every 5 s: a small log
    done = start * len(batches) + (resume["batch"] if resume is not None else 0)
    bar = tqdm(total=tcfg.epochs * len(batches), initial=done, desc=f"train β={tcfg.beta:g}", unit="batch",
               disable=not progress, mininterval=5.0)
    with bar, stop_on_signals(ck, "batch"):  # the bar closed also when the training stops: its line ends
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
                fault.see(b, rc, kl, loss, params)  # on the device: read before a save and below
                optimizer.step()
                sums += torch.stack([rc.detach(), kl.detach()]).double() * len(x)
                bar.update(1)
                if b + 1 < len(batches):  # the epoch's end is saved below, with its history row
                    ck(lambda: checked_state(epoch, b + 1, perm, sums, time.perf_counter() - t0))
            # the sums and the record of a bad batch in one read
            rc_sum, kl_sum, *record = torch.cat([sums, fault.record]).tolist()
            fault.check(not_finite(epoch), record)
            valid = evaluate(model, valid_x, tcfg.batch_size)
            if not math.isfinite(valid["rc"] + valid["kl"]):  # finite weights, so the validation data
                raise NotFinite(stop_message(f"validation loss after epoch {epoch + 1} (L_RC {valid['rc']:.4g}, "
                                             f"L_KL {valid['kl']:.4g}) while every training batch was finite",
                                             "Check the validation data"))
            row = {"epoch": epoch + 1, "train_rc": rc_sum / n, "train_kl": kl_sum / n,
                   "train_loss": (rc_sum + tcfg.beta * kl_sum) / n, "valid_rc": valid["rc"],
                   "valid_kl": valid["kl"], "seconds": time.perf_counter() - t0}
            history.append(row)
            if epoch + 1 < tcfg.epochs:  # a finished run is written by its caller, not resumed
                ck(lambda: state(epoch + 1, 0, None, None, 0.0), due=True)
            if on_epoch_end is not None:
                on_epoch_end(epoch + 1)
    return pd.DataFrame(history)


def train_beta(config: Mapping, beta: float, train_path, valid_path, out_dir, *, device: str = "auto",
               threads: int | None = None, progress: bool = True,
               checkpoint_seconds: float = CHECKPOINT_SECONDS) -> Path:
    """Train the model of one β and write ``model.pt`` and ``history.csv`` into out_dir (and
    ``checkpoint.pt`` while it trains, every `checkpoint_seconds`: see :func:`fit`)."""
    out_dir = Path(out_dir)  # made by the first write into it (latentspin.core.io.atomic)
    set_torch_threads(threads)
    dev = resolve_device(device)
    cfg, tcfg = vae_config(config), train_config(config, beta)
    train_x, train_attrs = load_spins(train_path, dev, L=cfg.L)  # each split checked against the config's L
    valid_x, valid_attrs = load_spins(valid_path, dev, L=cfg.L)
    torch.manual_seed(tcfg.seed)  # weight initialization
    model = VAE(cfg).to(dev)
    fingerprint = {"vae": cfg.as_dict(), "train": asdict(tcfg), "n_train": len(train_x), "n_valid": len(valid_x),
                   "data": {k: train_attrs.get(k) for k in ("seed", "L", "J", "D", "dmi", "schedule")}}
    # a split imported from OVF files (docs/ovf.md) is named by its files' digest, not by a seed and schedule
    for split, attrs in (("train", train_attrs), ("valid", valid_attrs)):
        if "source_sha256" in attrs:
            fingerprint[f"{split}_source_sha256"] = attrs["source_sha256"]
    checkpoint = out_dir / "checkpoint.pt"
    history = fit(model, train_x, valid_x, tcfg, checkpoint, fingerprint, progress=progress,
                  checkpoint_seconds=checkpoint_seconds)
    save_model(model.cpu(), out_dir / "model.pt",
               extra={"beta": beta, "train": asdict(tcfg), "epochs_trained": len(history), "device": str(dev)})
    write_csv(history, out_dir / "history.csv")
    checkpoint.unlink(missing_ok=True)  # done: a forced rerun trains afresh
    return out_dir / "model.pt"
