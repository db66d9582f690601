"""A training whose loss or gradient turns non-finite stops at that batch, names it, keeps its last
good checkpoint and writes no model."""

import math
import re

import numpy as np
import pytest
import torch
from latentspin.core.errors import NotFinite, UserError
from latentspin.vae import training
from latentspin.vae.model import VAE, VAEConfig

SMALL = dict(latent_dim=8, encoder_channels=(4, 6, 8, 8), decoder_channels=(8, 6, 4, 3), dense=16)
# 24 training samples in batches of 8: 3 batches an epoch, and 1 validation batch of 8
BATCHES = 3


def unit_spins(n, L, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.nn.functional.normalize(torch.randn(n, 3, L, L, generator=g), dim=1)


def run(tmp_path, epochs=3, checkpoint_seconds=0.0, name="ck.pt"):
    """A model and a call that trains it (the same weights and data every time: a rerun is a
    fresh process's rerun)."""
    torch.manual_seed(0)
    model = VAE(VAEConfig(L=32, **SMALL))
    tcfg = training.TrainConfig(beta=0.01, epochs=epochs, batch_size=8, lr=1e-3, seed=3)
    x, v = unit_spins(24, 32, 0), unit_spins(8, 32, 1)
    return model, lambda: training.fit(model, x, v, tcfg, tmp_path / name, {"test": 1}, progress=False,
                                       checkpoint_seconds=checkpoint_seconds)


def nan_at(monkeypatch, epoch, batch):
    """The training's L_RC is NaN at that batch (from 1) of that epoch (from 1): its call number,
    counting 3 training batches and 1 validation batch an epoch."""
    at, calls, loss = (epoch - 1) * (BATCHES + 1) + batch, [], training.reconstruction_loss

    def faulty(*args):
        calls.append(1)
        out = loss(*args)
        return out * math.nan if len(calls) == at else out

    monkeypatch.setattr(training, "reconstruction_loss", faulty)
    return calls


def assert_finite_checkpoint(path, epoch, batch):
    saved = torch.load(path, weights_only=True)
    assert (saved["epoch"], saved["batch"]) == (epoch, batch)
    for name, t in saved["model"].items():
        assert torch.isfinite(t.float()).all(), name
    for i, s in saved["optimizer"]["state"].items():
        assert torch.isfinite(s["exp_avg"]).all() and torch.isfinite(s["exp_avg_sq"]).all(), i
    if saved["sums"] is not None:
        assert torch.isfinite(saved["sums"]).all()


def test_a_nan_loss_stops_training_at_its_batch_and_the_rerun_resumes_from_the_last_good_save(tmp_path,
                                                                                               monkeypatch):
    """L_RC NaN at batch 2 of epoch 2, saved after every batch: NotFinite names that batch and the
    save after batch 1 of epoch 2, which the file holds, finite; the rerun without the fault resumes
    from it and ends bitwise where an uninterrupted run does."""
    full, go = run(tmp_path, name="full.pt")
    history = go()

    calls = nan_at(monkeypatch, epoch=2, batch=2)
    _, go = run(tmp_path)
    with pytest.raises(NotFinite) as e:
        go()
    monkeypatch.undo()
    assert isinstance(e.value, UserError) and isinstance(e.value, FloatingPointError)
    message = str(e.value)
    assert message.startswith("training β=0.01: non-finite loss (nan) at batch 2 of epoch 2 (L_RC nan, L_KL ")
    assert (f"; {tmp_path / 'ck.pt'} keeps the state after batch 1 of epoch 2; no model was written. "
            "Check the data or lower vae.training.lr") in message
    assert len(calls) == 6  # found before the save after batch 2: no batch more was trained
    assert_finite_checkpoint(tmp_path / "ck.pt", 1, 1)

    resumed, go = run(tmp_path)
    resumed_history = go()
    for (name, a), (_, b) in zip(full.state_dict().items(), resumed.state_dict().items()):
        assert torch.equal(a, b), name
    for column in ("epoch", "train_rc", "train_kl", "train_loss", "valid_rc", "valid_kl"):
        np.testing.assert_array_equal(history[column], resumed_history[column], err_msg=column)


def test_without_a_save_due_the_epochs_end_names_the_first_bad_batch(tmp_path, monkeypatch):
    """No save is due within an epoch (the interval is an hour): a NaN at batch 1 of epoch 2 makes
    every later batch NaN too, and the epoch's end names the first; the checkpoint keeps epoch 1."""
    calls = nan_at(monkeypatch, epoch=2, batch=1)
    _, go = run(tmp_path, checkpoint_seconds=3600)
    with pytest.raises(NotFinite, match=r"non-finite loss \(nan\) at batch 1 of epoch 2 \(L_RC nan, L_KL .*\); "
                                        r".*ck\.pt keeps the state after epoch 1; no model was written"):
        go()
    assert len(calls) == 4 + BATCHES  # epoch 1 with its validation, then epoch 2's batches: no validation
    assert_finite_checkpoint(tmp_path / "ck.pt", 1, 0)


def test_a_nan_before_any_save_says_none_was_saved(tmp_path, monkeypatch):
    nan_at(monkeypatch, epoch=1, batch=3)
    _, go = run(tmp_path, checkpoint_seconds=3600)
    with pytest.raises(NotFinite, match=r"at batch 3 of epoch 1 .*; no checkpoint of this training was saved yet; "
                                        r"no model was written"):
        go()
    assert not (tmp_path / "ck.pt").exists()


def test_a_nan_validation_loss_stops_training_after_its_epoch(tmp_path, monkeypatch):
    """Call 4 is epoch 1's validation batch: every training batch was finite, so the message says
    so; the checkpoint keeps the save after the last batch of epoch 1, not the epoch's end."""
    nan_at(monkeypatch, epoch=1, batch=BATCHES + 1)
    _, go = run(tmp_path)
    with pytest.raises(NotFinite, match=r"^training β=0\.01: non-finite validation loss after epoch 1 \(L_RC nan, "
                                        r"L_KL [0-9.]+\) while every training batch was finite; .*ck\.pt keeps the "
                                        r"state after batch 2 of epoch 1; no model was written\. Check the validation "
                                        r"data$"):
        go()
    assert_finite_checkpoint(tmp_path / "ck.pt", 0, 2)


def test_a_non_finite_gradient_of_a_finite_loss_stops_training_at_its_batch(tmp_path):
    """A hook makes one weight's gradient NaN at batch 2 of epoch 1, the loss being finite: caught
    there, named a gradient, and the save after batch 1 is what the file keeps."""
    model, go = run(tmp_path)
    calls = []

    def hook(grad):
        calls.append(1)
        return grad * math.nan if len(calls) == 2 else grad

    next(model.decoder.parameters()).register_hook(hook)
    with pytest.raises(NotFinite) as e:
        go()
    message = str(e.value)
    assert message.startswith("training β=0.01: non-finite gradient norm (nan) at batch 2 of epoch 1 (loss ")
    assert "keeps the state after batch 1 of epoch 1; no model was written" in message
    loss = float(message.split("(loss ")[1].split(")")[0])
    assert math.isfinite(loss) and len(calls) == 2
    assert_finite_checkpoint(tmp_path / "ck.pt", 0, 1)


def test_an_infinite_gradient_is_caught_too(tmp_path):
    """An infinite gradient of one tensor at batch 1 of epoch 2, no save due: the epoch's end names it."""
    model, go = run(tmp_path, checkpoint_seconds=3600)
    calls = []

    def hook(grad):
        calls.append(1)
        return torch.full_like(grad, math.inf) if len(calls) == 4 else grad

    list(model.parameters())[-1].register_hook(hook)  # the decoder's last bias
    with pytest.raises(NotFinite, match=r"non-finite gradient norm \(inf\) at batch 1 of epoch 2 \(loss [0-9.]+\); "
                                        r".* keeps the state after epoch 1"):
        go()


def test_the_train_command_reports_a_nan_in_one_line_and_writes_no_model(tmp_path, monkeypatch, capsys,
                                                                         paper_config):
    """Through the command line: exit status 2, one line naming the batch, no traceback, no model,
    the checkpoint of the last good save left for the rerun."""
    import xarray as xr
    from latentspin import cli
    from latentspin.core import config as cfg
    from latentspin.core.stores import write_zarr
    from latentspin.physics import observables
    from latentspin.physics.hamiltonian import Hamiltonian

    ham = Hamiltonian.from_config(paper_config["hamiltonian"])
    for name, (n, seed) in {"train": (24, 0), "valid": (8, 1)}.items():  # stores that keep the data contract
        spins = unit_spins(n, 32, seed)
        x = spins.double()
        obs = {"energy": observables.energy_density(x, ham), "W": observables.topological_index(x),
               "Mz": observables.magnetization_z(x)}
        write_zarr(xr.Dataset({"spins": (("sample", "component", "y", "x"), spins.numpy()),
                               **{k: ("sample", v.numpy()) for k, v in obs.items()}},
                              coords={"sample": np.arange(n)},
                              attrs={**paper_config["hamiltonian"], "L": 32, "seed": seed}), tmp_path / f"{name}.zarr")
    config = cfg.merge(paper_config, {"lattice": {"L": 32}, "vae": {
        "architecture": SMALL, "training": {"epochs": 3, "batch_size": 8}}})
    out = tmp_path / "beta0.01"
    argv = ["train-vae", "--config", cfg.section_json(config, cfg.TRAIN_SECTIONS), "--beta", "0.01",
            "--train", str(tmp_path / "train.zarr"), "--valid", str(tmp_path / "valid.zarr"),
            "--out-dir", str(out), "--device", "cpu", "--threads", "1", "--checkpoint-seconds", "0"]
    nan_at(monkeypatch, epoch=2, batch=3)
    capsys.readouterr()
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("latentspin: error:") == 1
    last = err.rstrip("\n").splitlines()[-1]  # on its own line, after the progress bar's
    assert re.fullmatch(r"latentspin: error: training β=0\.01: non-finite loss \(nan\) at batch 3 of epoch 2 "
                        r"\(L_RC nan, L_KL [0-9.e+-]+\); " + re.escape(str(out / "checkpoint.pt")) + " keeps the state "
                        r"after batch 2 of epoch 2; no model was written\. Check the data or lower vae\.training\.lr",
                        last), last
    assert not (out / "model.pt").exists() and not (out / "history.csv").exists()
    assert_finite_checkpoint(out / "checkpoint.pt", 1, 2)
