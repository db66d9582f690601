"""The VAE: architecture invariants, the loss, model files, and resumable training."""

import numpy as np
import pytest
import torch
from latentspin.core.checkpoints import Stopped
from latentspin.physics import observables, textures
from latentspin.physics.hamiltonian import Hamiltonian
from latentspin.vae import diagnostics, training
from latentspin.vae import model as vae_model
from latentspin.vae.layers import PeriodicConv2d
from latentspin.vae.model import (
    VAE,
    VAEConfig,
    decoder_amplitude,
    kl_divergence,
    kl_per_dim,
    latent_radius,
    load_model,
    reconstruction_loss,
    save_model,
)
from torch.distributions import Normal
from torch.distributions import kl_divergence as torch_kl

SMALL = dict(latent_dim=8, encoder_channels=(4, 6, 8, 8), decoder_channels=(8, 6, 4, 3), dense=16)


def unit_spins(n, L, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.nn.functional.normalize(torch.randn(n, 3, L, L, generator=g), dim=1)


@pytest.mark.parametrize("L", [32, 48, 64])
def test_shapes_for_any_multiple_of_16(L):
    model = VAE(VAEConfig(L=L, **SMALL)).eval()
    mu, logvar = model.encoder(unit_spins(2, L))
    assert mu.shape == logvar.shape == (2, 8)
    assert model.decoder(mu).shape == (2, 3, L, L)


def test_paper_architecture_sizes():
    """Fig. 6 with the decoder's dense layer fixed to (L/16)^2 * 128 = 8192 at L = 128."""
    model = VAE(VAEConfig(L=128))
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(8192, 512), (512, 200), (100, 512), (512, 8192)]
    convs = [m.out_channels for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs == [16, 32, 64, 128, 64, 32, 16, 3, 3]


@pytest.mark.parametrize("L", [40, 24, 16])
def test_lattice_must_survive_the_poolings(L):
    """L must halve four times and leave at least 2x2 cells: from a single cell, nearest
    upsampling and periodic convolutions could only decode uniform states."""
    with pytest.raises(ValueError, match="lattice.L"):
        VAEConfig(L=L)


def test_periodic_padding_makes_convolutions_shift_equivariant():
    """Shift the input by 16 sites: the first block's pre-pooling features shift by 16, and the
    whole conv stack's output (after four 2x poolings) by exactly one cell."""
    model = VAE(VAEConfig(L=64, **SMALL)).eval()
    x = unit_spins(2, 64, seed=1)
    shifted = torch.roll(x, shifts=(16, -16), dims=(-2, -1))
    first = model.encoder.features[:3]  # conv, BN, leaky ReLU
    torch.testing.assert_close(first(shifted), torch.roll(first(x), shifts=(16, -16), dims=(-2, -1)), atol=1e-6,
                               rtol=0)
    f, f_shifted = model.encoder.features(x), model.encoder.features(shifted)
    torch.testing.assert_close(f_shifted, torch.roll(f, shifts=(1, -1), dims=(-2, -1)), atol=1e-5, rtol=0)
    # zero padding would break it at the border
    plain = torch.nn.Conv2d(3, 4, 3, padding=1)
    assert not torch.allclose(plain(shifted), torch.roll(plain(x), shifts=(16, -16), dims=(-2, -1)), atol=1e-3)


def test_periodic_convolution_is_torchs_circular_convolution():
    """Same outputs and gradients as nn.Conv2d with circular padding, and the same state dict, so
    models saved before the faster wrap load and decode as they did (up to float rounding)."""
    torch.manual_seed(0)
    ours = PeriodicConv2d(5, 4, 3)
    theirs = torch.nn.Conv2d(5, 4, 3, padding=1, padding_mode="circular")
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(2, 5, 8, 8, requires_grad=True)
    y_ours, y_theirs = ours(x), theirs(x)
    torch.testing.assert_close(y_ours, y_theirs)
    g_ours, = torch.autograd.grad(y_ours.square().sum(), x)
    g_theirs, = torch.autograd.grad(y_theirs.square().sum(), x)
    torch.testing.assert_close(g_ours, g_theirs)
    assert ours.state_dict().keys() == theirs.state_dict().keys()


def test_channels_last_layout_changes_no_number(monkeypatch):
    """The feature maps run in latentspin.vae.model.FEATURE_LAYOUT (channels-last) for speed: the same weights in
    torch's default layout give the same code, decoded state and gradient to z, up to float
    rounding, and the decoder hands its output back in the default layout."""
    def run(model):
        z = torch.linspace(-2, 2, 4 * 8).view(4, 8).requires_grad_()
        out = model.decoder(z)
        grad, = torch.autograd.grad(out[:, 2].sum(), z)
        return model.encoder(make_data(4, 32, 0))[0], out, grad

    torch.manual_seed(0)
    fast = VAE(VAEConfig(L=32, **SMALL)).eval()
    assert fast.decoder.features[1].weight.is_contiguous(memory_format=torch.channels_last)
    mu_f, out_f, grad_f = run(fast)
    assert out_f.is_contiguous()
    monkeypatch.setattr(vae_model, "FEATURE_LAYOUT", torch.contiguous_format)
    plain = VAE(VAEConfig(L=32, **SMALL)).eval()
    plain.load_state_dict(fast.state_dict())
    assert not plain.decoder.features[1].weight.is_contiguous(memory_format=torch.channels_last)
    mu_p, out_p, grad_p = run(plain)
    torch.testing.assert_close(mu_f, mu_p, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out_f, out_p, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(grad_f, grad_p, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_decoded_spins_have_unit_length(mode):
    model = VAE(VAEConfig(L=32, **SMALL))
    getattr(model, mode)()
    z = 3 * torch.randn(16, 8)
    norms = model.decoder(z).norm(dim=1)
    torch.testing.assert_close(norms, torch.ones_like(norms), atol=1e-5, rtol=0)


def test_decoder_amplitude_is_the_length_before_normalization():
    """A last convolution with zero weights and bias b outputs b at every site: the amplitude is
    |b| whatever the code, and the decoded state is uniform along b. With a linear last layer,
    scaling it by 3 scales the amplitude by 3 and leaves the decoded spins unchanged."""
    model = VAE(VAEConfig(L=32, **SMALL)).eval()
    z = 3 * torch.randn(5, 8)
    last = model.decoder.features[-1]
    assert isinstance(last, torch.nn.Conv2d) and last.out_channels == 3
    spins, amplitude = model.decoder(z), decoder_amplitude(model.decoder, z, batch_size=2)
    torch.testing.assert_close(torch.nn.functional.normalize(model.decoder.field(z), dim=1), spins)
    with torch.no_grad():
        last.weight.mul_(3)
        last.bias.mul_(3)
    torch.testing.assert_close(decoder_amplitude(model.decoder, z), 3 * amplitude)
    torch.testing.assert_close(model.decoder(z), spins, atol=1e-6, rtol=0)
    with torch.no_grad():
        last.weight.zero_()
        last.bias.copy_(torch.tensor([0.3, 0.0, 0.4]))
    torch.testing.assert_close(decoder_amplitude(model.decoder, z), torch.full((5,), 0.5))
    uniform = torch.tensor([0.6, 0.0, 0.8])[None, :, None, None].expand(5, 3, 32, 32)
    torch.testing.assert_close(model.decoder(z), uniform)


def test_negating_the_last_convolution_mirrors_every_decoded_state():
    """The L2 normalization is odd, so a decoder whose last convolution's weights and bias are
    negated decodes -S wherever the original decodes S: the same energies, Mz and W negated. Such a
    decoder models S -> -S symmetric data as well as the original (docs/results.md uses it)."""
    model = VAE(VAEConfig(L=32, **SMALL)).eval()
    z = torch.cat([torch.zeros(1, 8), 3 * torch.randn(4, 8)])
    ham = Hamiltonian()
    with torch.no_grad():
        s = model.decoder(z).double()
        last = model.decoder.features[-1]
        last.weight.neg_()
        last.bias.neg_()
        m = model.decoder(z).double()
    torch.testing.assert_close(m, -s, atol=0, rtol=0)
    torch.testing.assert_close(observables.energy_density(m, ham), observables.energy_density(s, ham), atol=1e-12, rtol=0)
    torch.testing.assert_close(observables.magnetization_z(m), -observables.magnetization_z(s), atol=1e-12, rtol=0)
    torch.testing.assert_close(observables.topological_index(m), -observables.topological_index(s), atol=1e-9, rtol=0)


def test_kl_matches_closed_form():
    mu = torch.tensor([[0.0, 1.0, -2.0], [0.5, 0.0, 0.0]], dtype=torch.float64)
    logvar = torch.tensor([[0.0, 0.0, np.log(4.0)], [np.log(0.25), 0.0, 0.0]], dtype=torch.float64)
    # 0.5 (σ² + μ² - ln σ² - 1) per dimension
    expected = 0.5 * torch.tensor([[0.0, 1.0, 4 + 4 - np.log(4) - 1], [0.25 + 0.25 - np.log(0.25) - 1, 0.0, 0.0]],
                                  dtype=torch.float64)
    torch.testing.assert_close(kl_per_dim(mu, logvar), expected)
    reference = torch_kl(Normal(mu, torch.exp(0.5 * logvar)), Normal(0.0, 1.0)).sum(-1).mean()
    torch.testing.assert_close(kl_divergence(mu, logvar), reference)


def test_reconstruction_loss_is_the_mean_over_sites_and_components():
    x, y = unit_spins(3, 16), unit_spins(3, 16, seed=5)
    assert reconstruction_loss(x, y).item() == pytest.approx(((x - y) ** 2).sum().item() / (3 * 3 * 16 * 16))


def test_save_load_round_trip_is_exact(tmp_path):
    model = VAE(VAEConfig(L=32, **SMALL))
    model.train()
    for _ in range(3):  # move the BatchNorm running statistics off their defaults
        model(unit_spins(8, 32))
    model.eval()
    z = torch.randn(5, 8)
    save_model(model, tmp_path / "m.pt", extra={"beta": 0.01})
    loaded = load_model(tmp_path / "m.pt")
    assert not loaded.training and loaded.extra["beta"] == 0.01 and loaded.cfg == model.cfg
    torch.testing.assert_close(loaded.decoder(z), model.decoder(z), atol=0, rtol=0)
    # the file holds tensors and plain containers only: it loads without unpickling code
    torch.load(tmp_path / "m.pt", weights_only=True)


def make_data(n, L, seed):
    """Spirals of random wave vector and phase: a small learnable data set."""
    ham = Hamiltonian()
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        s = textures.spiral(L, int(rng.integers(1, 3)), int(rng.integers(0, 3)), ham, dtype=torch.float32)
        out.append(torch.roll(s, shifts=(int(rng.integers(L)), int(rng.integers(L))), dims=(-2, -1)))
    return torch.stack(out)


def run(tmp_path, name, epochs, interrupt_after=None, lr=1e-3, checkpoint_seconds=300.0):
    torch.manual_seed(0)
    model = VAE(VAEConfig(L=32, **SMALL))
    tcfg = training.TrainConfig(beta=0.01, epochs=epochs, batch_size=8, lr=lr, seed=3)
    x, v = make_data(24, 32, 0), make_data(8, 32, 1)

    def stop(epoch):
        if epoch == interrupt_after:
            raise KeyboardInterrupt

    fingerprint = {"lr": lr}
    return model, lambda: training.fit(model, x, v, tcfg, tmp_path / f"{name}.pt", fingerprint, progress=False,
                                    on_epoch_end=stop, checkpoint_seconds=checkpoint_seconds)


def test_interrupted_and_resumed_training_ends_with_the_same_weights(tmp_path):
    full, go = run(tmp_path, "full", 4)
    history = go()
    assert len(history) == 4

    _, go = run(tmp_path, "cut", 4, interrupt_after=2)
    with pytest.raises(KeyboardInterrupt):
        go()
    resumed, go = run(tmp_path, "cut", 4)  # a fresh process would start like this
    resumed_history = go()
    assert list(resumed_history["epoch"]) == [1, 2, 3, 4]
    for (name, a), (_, b) in zip(full.state_dict().items(), resumed.state_dict().items()):
        assert torch.equal(a, b), name
    np.testing.assert_array_equal(resumed_history["train_loss"], history["train_loss"])


def _loss_calls(monkeypatch, at: int, action):
    """Wrap the training's reconstruction loss (once per batch and once per validation batch:
    here 3 + 1 calls an epoch) so that its call number `at` runs `action` first."""
    calls, loss = [], training.reconstruction_loss

    def counted(*args):
        calls.append(1)
        if len(calls) == at:
            action()
        return loss(*args)

    monkeypatch.setattr(training, "reconstruction_loss", counted)
    return calls


def _assert_same_training(a, b, history_a, history_b):
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.equal(x, y), name
    for column in ("epoch", "train_rc", "train_kl", "train_loss", "valid_rc", "valid_kl"):
        np.testing.assert_array_equal(history_a[column], history_b[column], err_msg=column)


def test_training_sent_sigterm_mid_epoch_saves_that_batch_and_resumes_bitwise(tmp_path, monkeypatch):
    """SIGTERM (a time limit, scancel) during batch 2 of epoch 2, with no save due (the interval
    is an hour): that batch finishes, the run's state after it is saved, the training stops, and
    the rerun ends with the weights and losses of an uninterrupted run; the caller's signal
    handlers are back."""
    import os
    import signal

    full, go = run(tmp_path, "full", 4)
    history = go()
    calls = _loss_calls(monkeypatch, 6, lambda: os.kill(os.getpid(), signal.SIGTERM))
    _, go = run(tmp_path, "cut", 4, checkpoint_seconds=3600)
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Stopped) as stopped:
        go()
    monkeypatch.undo()
    assert signal.getsignal(signal.SIGTERM) is before
    assert len(calls) == 6 and stopped.value.where == "batch 2 of epoch 2"
    saved = torch.load(tmp_path / "cut.pt", weights_only=True)
    assert (saved["epoch"], saved["batch"], len(saved["history"])) == (1, 2, 1)
    resumed, go = run(tmp_path, "cut", 4)  # a fresh process would start like this
    _assert_same_training(full, resumed, history, go())


def test_training_killed_mid_epoch_resumes_from_its_last_timed_save(tmp_path, monkeypatch):
    """Saved after every batch (interval 0), killed without warning inside batch 2 of epoch 2: the
    rerun goes on from batch 1 of that epoch and still ends as an uninterrupted run."""
    full, go = run(tmp_path, "full", 3)
    history = go()

    def kill():
        raise KeyboardInterrupt  # mid-batch: nothing of this batch is saved

    _loss_calls(monkeypatch, 6, kill)
    _, go = run(tmp_path, "cut", 3, checkpoint_seconds=0)
    with pytest.raises(KeyboardInterrupt):
        go()
    monkeypatch.undo()
    saved = torch.load(tmp_path / "cut.pt", weights_only=True)
    assert (saved["epoch"], saved["batch"]) == (1, 1)
    assert torch.equal(torch.sort(saved["perm"]).values, torch.arange(24))  # the epoch's permutation
    resumed, go = run(tmp_path, "cut", 3)
    _assert_same_training(full, resumed, history, go())


def test_the_train_command_stops_on_sigterm_and_its_rerun_finishes_the_model(tmp_path, monkeypatch, capsys,
                                                                              paper_config):
    """Through the CLI a Snakemake job runs: a bad interval stops it before the data are read,
    naming the flag; SIGTERM ends it with a message naming the checkpoint and no model; the rerun
    writes the model an uninterrupted job writes and removes the checkpoint."""
    import os
    import signal

    from latentspin import cli
    from latentspin.anneal.shards import sample_observables
    from latentspin.core import config as cfg
    from latentspin.core.stores import make_dataset, write_zarr

    for name, (n, seed) in {"train": (24, 0), "valid": (8, 1)}.items():
        spins = make_data(n, 32, seed).numpy()
        attrs = {"J": 1.0, "D": 0.3, "dmi": "bloch", "L": 32, "seed": seed}  # the data contract's
        write_zarr(make_dataset(spins, range(n), sample_observables(spins, Hamiltonian()), attrs),
                   tmp_path / f"{name}.zarr")
    config = cfg.merge(paper_config, {"lattice": {"L": 32}, "vae": {
        "architecture": SMALL, "training": {"epochs": 3, "batch_size": 8}}})

    def argv(out):
        return ["train-vae", "--config", cfg.section_json(config, cfg.TRAIN_SECTIONS), "--beta", "0.01",
                "--train", str(tmp_path / "train.zarr"), "--valid", str(tmp_path / "valid.zarr"),
                "--out-dir", str(tmp_path / out), "--device", "cpu", "--threads", "1"]

    assert cli.main(argv("cut") + ["--checkpoint-seconds", "-1"]) == 2
    assert "--checkpoint-seconds must be a number of seconds >= 0, got '-1'" in capsys.readouterr().err
    assert not (tmp_path / "cut").exists()

    assert cli.main(argv("full")) in (0, None)
    _loss_calls(monkeypatch, 6, lambda: os.kill(os.getpid(), signal.SIGTERM))
    with pytest.raises(SystemExit, match=r"training stopped after batch 2 of epoch 2, its state saved in .*"
                                         r"checkpoint.pt; rerun to resume it"):
        cli.main(argv("cut"))
    monkeypatch.undo()
    assert not (tmp_path / "cut" / "model.pt").exists() and (tmp_path / "cut" / "checkpoint.pt").exists()
    assert cli.main(argv("cut")) in (0, None)
    assert not (tmp_path / "cut" / "checkpoint.pt").exists()
    full, cut = load_model(tmp_path / "full" / "model.pt"), load_model(tmp_path / "cut" / "model.pt")
    for (name, x), (_, y) in zip(full.state_dict().items(), cut.state_dict().items()):
        assert torch.equal(x, y), name


def test_a_checkpoint_of_another_run_is_not_resumed(tmp_path):
    _, go = run(tmp_path, "x", 2, interrupt_after=1)
    with pytest.raises(KeyboardInterrupt):
        go()
    _, go = run(tmp_path, "x", 2, lr=5e-4)  # different fingerprint
    assert list(go()["epoch"]) == [1, 2]


def test_diagnostics_are_consistent():
    torch.manual_seed(0)
    model = VAE(VAEConfig(L=32, **SMALL))
    x = make_data(12, 32, 2)
    d = diagnostics.diagnose(model, x, Hamiltonian(), beta=0.01, prior_samples=6, active_threshold=0.01,
                                 nodal_threshold=-1.5, seed=1)
    assert d["kl_total"] == pytest.approx(sum(d["arrays"]["kl_per_dim"]), rel=1e-6)
    assert d["active_units"] == sum(v > 0.01 for v in d["arrays"]["mu_variance"])
    assert len(d["arrays"]["xvae_energy"]) == 6
    assert 0 <= d["xvae_diversity"] <= 1 and 0 < d["data_diversity"] <= 1
    given = diagnostics.diagnose(model, x, Hamiltonian(), beta=0.01, prior_samples=6, active_threshold=0.01,
                                 nodal_threshold=-1.5, seed=1, data=diagnostics.data_reference(x, Hamiltonian(), -1.5))
    assert given == d  # a precomputed data reference changes nothing
    assert d["data_energy_mean"] == pytest.approx(float(observables.energy_density(x.double(), Hamiltonian()).mean()))
    assert np.all(np.array(d["arrays"]["xvae_max_local_energy"]) >= np.array(d["arrays"]["xvae_energy"]) - 1e-9)
    # spirals have a uniform local energy density near -2.03 J: no nodal points at -1.5
    assert d["data_nodal_points_mean"] == 0 and d["data_max_local_energy_mean"] < -1.9
    # the reconstructions are the decoded posterior means, measured like any state
    with torch.no_grad():
        rec = observables.measure(model.decoder(model.encoder(x)[0]), Hamiltonian(), nodal_threshold=-1.5)
    for key in ("energy", "max_local_energy", "nodal_points"):
        np.testing.assert_allclose(d["arrays"][f"recon_{key}"], rec[key].numpy(), rtol=1e-6)
    assert d["recon_nodal_points_mean"] == pytest.approx(float(rec["nodal_points"].double().mean()))
    # the global maximum is a local one: a state has a nodal point iff its peak passes the threshold
    peaks = {who: np.array(d["arrays"][f"{who}_max_local_energy"]) for who in ("recon", "xvae")}
    mid = float(np.median(np.concatenate(list(peaks.values()))))  # some states pass it, some do not
    at_mid = diagnostics.diagnose(model, x, Hamiltonian(), beta=0.01, prior_samples=6, active_threshold=0.01,
                                  nodal_threshold=mid, seed=1)
    passed = {who: np.array(at_mid["arrays"][f"{who}_nodal_points"]) > 0 for who in peaks}
    for who in peaks:
        np.testing.assert_array_equal(passed[who], peaks[who] > mid)
    assert 0 < sum(p.sum() for p in passed.values()) < len(x) + 6
    # no local energy density reaches 2(|J| + |D|): a threshold above it counts no nodal point
    high = diagnostics.diagnose(model, x, Hamiltonian(), beta=0.01, prior_samples=6, active_threshold=0.01,
                                nodal_threshold=10.0, seed=1)
    assert high["recon_nodal_points_mean"] == high["xvae_nodal_points_mean"] == high["data_nodal_points_mean"] == 0
    # an encoder that ignores its input has no active units
    with torch.no_grad():
        model.encoder.head[-1].weight.zero_()
    assert diagnostics.diagnose(model, x, Hamiltonian(), beta=0.01, prior_samples=2, active_threshold=1e-12,
                                nodal_threshold=-1.5, seed=1)["active_units"] == 0


def test_origin_state_and_output_amplitude():
    """The state decoded at z = 0 and the decoder's output amplitude: analytic for a decoder
    whose last convolution emits only its bias (a uniform state, the same for every code), and
    odd under the mirror S -> -S that the Hamiltonian cannot tell apart."""
    torch.manual_seed(0)
    model = VAE(VAEConfig(L=32, **SMALL))
    x = make_data(4, 32, 2)
    kw = dict(beta=0.01, prior_samples=5, active_threshold=0.01, nodal_threshold=-1.5, seed=1)
    d = diagnostics.diagnose(model, x, Hamiltonian(), **kw)
    with torch.no_grad():
        field = model.decoder.field(torch.zeros(1, 8))
        at_origin = observables.measure(model.decoder(torch.zeros(1, 8)), Hamiltonian(), nodal_threshold=-1.5)
        prior_amplitude = decoder_amplitude(model.decoder, torch.randn(5, 8, generator=torch.Generator().manual_seed(1)))
    for k in ("energy", "W", "Mz", "max_local_energy", "nodal_points"):
        assert d[f"origin_{k}"] == pytest.approx(float(at_origin[k][0]), abs=1e-12), k
    assert d["origin_amplitude"] == pytest.approx(float(field.norm(dim=1).mean()), rel=1e-6)
    assert d["xvae_amplitude_mean"] == pytest.approx(float(prior_amplitude.mean()), rel=1e-6)
    with torch.no_grad():  # the data's encodings μ(x): where in the latent space the data lie
        mu = model.encoder(x)[0]
    assert d["data_latent_radius_mean"] == pytest.approx(float(mu.norm(dim=1).mean()) / 8**0.5, rel=1e-6)
    # the mirror: last convolution negated; every decoded state is -1 times the original
    last = model.decoder.features[-1]
    with torch.no_grad():
        last.weight.neg_()
        last.bias.neg_()
    m = diagnostics.diagnose(model, x, Hamiltonian(), **kw)
    assert m["origin_Mz"] == pytest.approx(-d["origin_Mz"], abs=1e-12)
    assert m["origin_W"] == pytest.approx(-d["origin_W"], abs=1e-9)
    for k in ("origin_energy", "origin_max_local_energy", "origin_nodal_points", "origin_amplitude",
              "xvae_amplitude_mean", "xvae_energy_mean"):
        assert m[k] == pytest.approx(d[k], rel=1e-9, abs=1e-12), k
    # only the bias (0, 0, 0.3): a uniform +z state, ε = -2J (two bonds per site, no DMI energy)
    with torch.no_grad():
        last.weight.zero_()
        last.bias.copy_(torch.tensor([0.0, 0.0, 0.3]))
    u = diagnostics.diagnose(model, x, Hamiltonian(J=1.0, D=0.3), **kw)
    assert (u["origin_Mz"], u["origin_W"], u["origin_nodal_points"]) == (pytest.approx(1.0), pytest.approx(0.0), 0)
    assert u["origin_energy"] == pytest.approx(-2.0) and u["origin_max_local_energy"] == pytest.approx(-2.0)
    assert u["origin_amplitude"] == pytest.approx(0.3) and u["xvae_amplitude_mean"] == pytest.approx(0.3)
    # an encoder that maps every input to μ = (2, …, 2): radius 2 whatever the data
    with torch.no_grad():
        model.encoder.head[-1].weight.zero_()
        model.encoder.head[-1].bias.fill_(2.0)
    assert diagnostics.diagnose(model, x, Hamiltonian(), **kw)["data_latent_radius_mean"] == pytest.approx(2.0)


def test_diversity():
    x = make_data(8, 32, 3).double()
    assert diagnostics.diversity(x[:1].repeat(5, 1, 1, 1)) == pytest.approx(0.0, abs=1e-6)  # float32 spins
    uniform_random = unit_spins(4000, 32, seed=9)  # independent: 1 - |mean|² -> 1 - 1/n
    assert diagnostics.diversity(uniform_random) == pytest.approx(1 - 1 / 4000, abs=3e-4)


def test_beta_must_be_positive():
    with pytest.raises(ValueError, match="beta"):
        training.TrainConfig(beta=0.0)


def test_bfloat16_training_follows_the_float32_loss_curve(tmp_path):
    """Mixed precision (vae.training.precision: bfloat16) changes the arithmetic, not the result:
    the validation losses track float32's within a few per cent and still fall."""
    histories = {}
    for precision in training.PRECISIONS:
        torch.manual_seed(0)
        model = VAE(VAEConfig(L=32, **SMALL))
        tcfg = training.TrainConfig(beta=0.01, epochs=3, batch_size=8, seed=3, precision=precision)
        x, v = make_data(24, 32, 0), make_data(8, 32, 1)
        histories[precision] = training.fit(model, x, v, tcfg, tmp_path / f"{precision}.pt", {}, progress=False)
        assert next(model.parameters()).dtype == torch.float32  # master weights stay float32
    a, b = histories["float32"], histories["bfloat16"]
    assert not np.array_equal(a["train_loss"], b["train_loss"])  # the switch did change the arithmetic
    np.testing.assert_allclose(b["valid_rc"], a["valid_rc"], rtol=0.05)
    assert b["valid_rc"].iloc[-1] < b["valid_rc"].iloc[0]


def test_compiled_training_is_the_same_function(tmp_path):
    """vae.training.compile changes how the step runs, not what it computes: one step's outputs
    and gradients are eager's to float rounding (the sampling of z, left eager, draws the same ε),
    the compiler did build graphs, and two epochs follow eager's loss curve. (Weights are not
    compared after training: Adam's normalized step turns rounding in a near-zero gradient into a
    difference of the order of the learning rate. KL, small, is the loss most sensitive to rounding.)"""
    from torch._dynamo.utils import counters

    torch._dynamo.reset()
    counters.clear()
    x, v = make_data(16, 32, 0), make_data(8, 32, 1)
    torch.manual_seed(0)
    model = VAE(VAEConfig(L=32, **SMALL)).train()
    steps = {}
    for compile in (False, True):
        model.zero_grad(set_to_none=True)
        out, mu, logvar = training.training_forward(model, compile)(x[:8], torch.Generator().manual_seed(1))
        (reconstruction_loss(x[:8], out) + 0.01 * kl_divergence(mu, logvar)).backward()
        steps[compile] = [out.detach(), mu.detach(), logvar.detach()] + [p.grad.clone() for p in model.parameters()]
    assert counters["stats"]["unique_graphs"] >= 2  # the encoder's and the decoder's, at least
    (out, mu, logvar, *grads), (out_c, mu_c, logvar_c, *grads_c) = steps[False], steps[True]
    torch.testing.assert_close(mu_c, mu, rtol=1e-4, atol=5e-5)
    torch.testing.assert_close(logvar_c, logvar, rtol=1e-4, atol=5e-5)
    # the normalization to unit spins divides the decoder's rounding (about 2e-6) by its output's
    # length, down to 0.02 in this untrained network: a spin component differs by up to about 3e-4
    torch.testing.assert_close(out_c, out, rtol=0, atol=1e-3)
    # all parameters' gradients as one vector (a bias followed by a normalization has a gradient
    # of zero up to rounding, which no per-tensor relative tolerance can hold)
    g, g_c = torch.cat([t.flatten() for t in grads]), torch.cat([t.flatten() for t in grads_c])
    assert (g_c - g).norm() <= 1e-3 * g.norm()

    histories = {}
    initial = {k: t.clone() for k, t in model.state_dict().items()}
    for compile in (False, True):  # the same module objects: the graphs compiled above serve again
        model.load_state_dict(initial)
        tcfg = training.TrainConfig(beta=0.01, epochs=2, batch_size=8, seed=3, compile=compile)
        histories[compile] = training.fit(model, x, v, tcfg, tmp_path / f"{compile}.pt", {}, progress=False)
    a, b = histories[False], histories[True]
    for column, rtol in (("train_rc", 1e-4), ("valid_rc", 1e-4), ("train_kl", 3e-3), ("valid_kl", 3e-3)):
        np.testing.assert_allclose(b[column], a[column], rtol=rtol, err_msg=column)


def test_unknown_precision_is_rejected_naming_the_key():
    with pytest.raises(ValueError, match="vae.training.precision .* got 'float16'"):
        training.TrainConfig(beta=0.01, precision="float16")


def test_latent_radius_is_one_for_prior_codes_and_zero_at_the_origin():
    """|z|² of z ~ N(0, I_N) is χ²_N: mean N, so |z| / √N concentrates at √(1 - 1/(2N)) + O(N⁻²)
    with standard deviation about 1 / √(2N)."""
    n_dim, n = 100, 20_000
    r = latent_radius(torch.randn(n, n_dim, generator=torch.Generator().manual_seed(4))).numpy()
    assert r.shape == (n,)
    assert abs(r.mean() - (1 - 1 / (4 * n_dim))) < 4 * (1 / (2 * n_dim)) ** 0.5 / n**0.5
    assert abs(r.std() - (1 / (2 * n_dim)) ** 0.5) < 0.005
    assert latent_radius(torch.zeros(3, n_dim)).tolist() == [0.0] * 3
    np.testing.assert_allclose(latent_radius(torch.full((1, 4), -3.0)), [3.0])  # |(-3,…)| / 2
