"""Objectives and the three latent-space explorers."""

import io
import math

import numpy as np
import pytest
import torch
from latentspin.anneal import driver
from latentspin.anneal.schedule import Schedule
from latentspin.core import config as cfg
from latentspin.core.seeds import sample_keys
from latentspin.explore import algorithms, objectives, search
from latentspin.physics import observables, textures
from latentspin.physics.hamiltonian import Hamiltonian
from latentspin.vae.model import VAE, VAEConfig
from scipy import stats

HAM = Hamiltonian()
SETTINGS = {"C": {"a": [1, 0]}, "C_BC": {"boundary": {"radius": 0.3, "width": 2.0, "direction": [0, 0, 1]}}}
SMALL = dict(latent_dim=8, encoder_channels=(4, 6, 8, 8), decoder_channels=(8, 6, 4, 3), dense=16)


def objective(name, L=32):
    return objectives.build(name, L, HAM, SETTINGS)


def test_correlation_objective_on_a_spiral():
    """C = cos q along the spiral's wave vector and 1 across it."""
    L, n = 32, 2
    s = textures.spiral(L, n, 0, HAM)[None]
    along = objectives.build("C", L, HAM, {**SETTINGS, "C": {"a": [1, 0]}})
    across = objectives.build("C", L, HAM, {**SETTINGS, "C": {"a": [0, 1]}})
    assert along.value(s).item() == pytest.approx(math.cos(2 * math.pi * n / L), abs=1e-12)
    assert across.value(s).item() == pytest.approx(1.0, abs=1e-12)
    assert along.maximize and along.fitness(s).item() == pytest.approx(along.value(s).item())


def test_uniform_and_skyrmion_objectives():
    up = torch.zeros(1, 3, 32, 32, dtype=torch.float64)
    up[:, 2] = 1
    assert objective("Mz").value(up).item() == 1.0
    assert objective("W").value(up).item() == pytest.approx(0.0, abs=1e-12)
    assert objective("energy").value(up).item() == pytest.approx(-2.0)  # ferromagnet: -2J
    sk = textures.skyrmion(32, 5.0, HAM)[None]
    assert abs(objective("W").value(sk).item()) == pytest.approx(1.0, abs=1e-6)
    e = objective("energy")
    assert not e.maximize and e.cost(up).item() == pytest.approx(-2.0)


def test_boundary_map_is_a_ring():
    L = 64
    s_bc = objectives.boundary_map(L, 20.0, 2.0, (0, 0, 1))
    norm = s_bc.norm(dim=0)
    on = norm > 0
    torch.testing.assert_close(norm[on], torch.ones(int(on.sum())))
    c = (L - 1) / 2
    y, x = torch.meshgrid(torch.arange(L) - c, torch.arange(L) - c, indexing="ij")
    r = torch.hypot(x.double(), y.double())
    assert ((r[on] - 20).abs() <= 1.0).all() and on.sum() > 2 * math.pi * 20  # a closed ring
    up = torch.zeros(1, 3, L, L)
    up[:, 2] = 1
    c_bc = objectives.build("C_BC", L, HAM, {**SETTINGS, "C_BC": {"boundary": {"radius": 20 / L, "width": 2.0,
                                                                                 "direction": [0, 0, 1]}}})
    fraction = on.double().mean().item()
    assert c_bc.value(up).item() == pytest.approx(fraction, rel=1e-6)
    assert c_bc.value(-up).item() == pytest.approx(-fraction, rel=1e-6)
    tangential = objectives.boundary_map(L, 20.0, 2.0, "tangential")
    radial = objectives.boundary_map(L, 20.0, 2.0, "radial")
    assert (tangential * radial).sum(dim=0).abs().max() < 1e-6


def test_boundary_ring_holds_every_site_within_half_a_width():
    """The ring is exactly the sites whose distance from the lattice's centre differs from the
    radius by at most width/2 (counted here independently), and a ring too thin to hold a site is
    an error, not an objective that is 0 for every state."""
    for L, radius, width in ((32, 11.2, 1.0), (64, 20.0, 2.0), (16, 3.2, 0.7)):
        on = objectives.boundary_map(L, radius, width).norm(dim=0) > 0
        c = (L - 1) / 2
        expected = np.array([[abs(math.dist((x, y), (c, c)) - radius) <= width / 2 for x in range(L)]
                             for y in range(L)])
        assert expected.any()
        np.testing.assert_array_equal(on.numpy(), expected)
    with pytest.raises(ValueError, match="width 0.5 leaves the ring of radius 3.2 without a lattice site"):
        objectives.boundary_map(16, 3.2, 0.5)


@pytest.mark.parametrize("name", objectives.OBJECTIVES)
def test_gradients_through_the_decoder_are_finite_and_nonzero(name):
    torch.manual_seed(0)
    model = VAE(VAEConfig(L=32, **SMALL)).eval()
    z = torch.randn(4, 8, requires_grad=True)
    objective(name).cost(model.decoder(z)).sum().backward()
    assert torch.isfinite(z.grad).all() and (z.grad.abs().sum(dim=1) > 0).all()


def test_roulette_selection_frequencies():
    """Parents are drawn with p_i ∝ 1 + (s-1)(f_i - f_worst)/(f_best - f_worst): chi-square test."""
    f = torch.tensor([-3.0, -1.0, 0.0, 2.0, 5.0, 5.0])
    p = algorithms.roulette_probabilities(f, 8.0)
    assert p[4] / p[0] == pytest.approx(8.0) and p.sum().item() == pytest.approx(1.0)
    g = torch.Generator().manual_seed(1)
    n = 100_000
    idx = algorithms.select_parents(p.float(), n, g)
    counts = torch.bincount(idx.flatten(), minlength=len(f)).numpy()
    assert stats.chisquare(counts, 2 * n * p.numpy()).pvalue > 1e-3
    # a constant fitness gives a uniform wheel; negative fitness works the same
    torch.testing.assert_close(algorithms.roulette_probabilities(torch.ones(4), 5.0), torch.full((4,), 0.25,
                                                                                              dtype=torch.float64))
    torch.testing.assert_close(algorithms.roulette_probabilities(f - 100, 8.0), p)
    with pytest.raises(ValueError, match="pressure"):
        algorithms.roulette_probabilities(f, 0.0)


def test_uniform_crossover_takes_each_gene_from_a_parent_half_and_half():
    g = torch.Generator().manual_seed(2)
    a, b = torch.zeros(200, 100), torch.ones(200, 100)
    child = algorithms.uniform_crossover(a, b, g)
    assert ((child == 0) | (child == 1)).all()
    n = child.numel()
    assert abs(child.mean().item() - 0.5) < 5 * math.sqrt(0.25 / n)


def test_mutation_replaces_one_percent_of_genes_with_normal_draws():
    g = torch.Generator().manual_seed(3)
    pop = torch.full((1000, 100), 7.0)
    out = algorithms.mutate(pop, 0.01, g)
    changed = out != 7.0
    n = pop.numel()
    assert abs(changed.float().mean().item() - 0.01) < 5 * math.sqrt(0.01 * 0.99 / n)
    fresh = out[changed]
    assert stats.kstest(fresh.numpy(), "norm").pvalue > 1e-3


def test_genetic_algorithm_improves_a_toy_objective():
    """Maximize -|z - z0|² through an identity 'decoder': the best individual approaches z0, and
    with elitism the best value never decreases."""
    g = torch.Generator().manual_seed(4)
    z0 = torch.full((6,), 0.5)
    toy = objectives.Objective("toy", True, lambda x: -((x - z0) ** 2).sum(-1))
    out = algorithms.genetic(lambda z: z, toy, torch.randn(50, 6, generator=g), generations=60, pressure=8.0,
                          mutation_rate=0.05, generator=g, elitism=1, snapshots=(0, 60))
    best = out["stats"][:, 2]
    assert (torch.diff(best) >= 0).all() and best[-1] > best[0] and best[-1] > -0.2
    assert out["best_codes"].shape == (61, 6) and out["snapshot_states"].shape == (2, 6)


def test_stochastic_algorithm_converges_on_a_linear_decoder():
    """A linear decoder x = A z and Q = |x - x0|²: μ* goes to A⁻¹x0 and σ* to 0."""
    torch.manual_seed(0)
    A = torch.eye(4) + 0.2 * torch.randn(4, 4)
    target = torch.tensor([0.5, -0.3, 0.8, 0.1])
    x0 = target @ A
    toy = objectives.Objective("toy", False, lambda x: ((x - x0) ** 2).sum(-1))
    out = algorithms.stochastic(lambda z: z @ A, toy, 4, samples=64, lr=1e-2, generator=torch.Generator().manual_seed(5),
                             gamma_every=300, sigma_tol=3e-2, max_iterations=5000)
    assert out["converged"] and out["sigma"].max() < 3e-2
    assert out["sigma_max"][-1] == out["sigma_max"].min()  # σ* ends at its smallest
    torch.testing.assert_close(out["mu"], target, atol=0.03, rtol=0)
    assert out["gamma"][-1] < 1e-3 and out["decodes"] == 64 * out["iterations"]


def test_single_code_is_independent_per_code():
    """Optimizing K codes together equals optimizing each alone (eval-mode decoder, elementwise Adam)."""
    torch.manual_seed(1)
    model = VAE(VAEConfig(L=32, **SMALL)).eval()
    z0 = torch.randn(3, 8)
    together = algorithms.single_code(model.decoder, objective("energy"), z0, iterations=5, lr=1e-2)
    alone = algorithms.single_code(model.decoder, objective("energy"), z0[1:2], iterations=5, lr=1e-2)
    torch.testing.assert_close(together["z_star"][1:2], alone["z_star"], atol=1e-6, rtol=0)


@pytest.fixture(scope="module")
def trained_smoke_model(tmp_path_factory):
    """A small VAE trained briefly on annealed 32x32 labyrinths."""
    from latentspin.vae import training

    ham = Hamiltonian()
    schedule = Schedule(sweeps=150, quench_sweeps=30)
    x = torch.from_numpy(driver.anneal(sample_keys(0, "train", range(96)), 32, ham, schedule))
    torch.manual_seed(0)
    model = VAE(VAEConfig(L=32, latent_dim=16, encoder_channels=(8, 16, 16, 16), decoder_channels=(16, 16, 8, 3),
                          dense=32))
    tcfg = training.TrainConfig(beta=1e-3, epochs=8, batch_size=16, lr=3e-3, seed=0)
    training.fit(model, x[:80], x[80:], tcfg, tmp_path_factory.mktemp("m") / "ck.pt", {}, progress=False)
    model.extra = {"beta": 1e-3}
    return model.eval()


def test_single_code_lowers_the_energy_of_a_trained_model(trained_smoke_model):
    model = trained_smoke_model
    z0 = torch.randn(8, model.cfg.latent_dim, generator=torch.Generator().manual_seed(6))
    out = algorithms.single_code(model.decoder, objective("energy"), z0, iterations=40, lr=1e-2, record_every=10)
    assert out["cost"][-1].mean() < out["cost"][0].mean()
    assert (out["cost"][-1] <= out["cost"][0] + 1e-4).all()


def smoke_config(root, **explore_overrides):
    import yaml

    config = cfg.merge(yaml.safe_load((root / "config.yaml").read_text()),
                       yaml.safe_load((root / "presets" / "smoke.yaml").read_text()))
    return cfg.merge(config, {"explore": explore_overrides})


def test_stochastic_keeps_the_distribution_at_the_end_of_every_gamma_level():
    """γ levels of 5 iterations, stopped at 12: the distributions after iterations 4, 9 and 11 (γ
    1, 0.1, 0.01), the last of them the returned μ*, σ*; each μ* is the traced one of its step."""
    toy = objectives.Objective("toy", False, lambda x: (x**2).sum(-1))
    out = algorithms.stochastic(lambda z: 2 * z + 1, toy, 3, samples=4, lr=1e-2,
                             generator=torch.Generator().manual_seed(1), gamma_every=5, sigma_tol=1e-9,
                             max_iterations=12, record_every=1)
    assert out["level_step"].tolist() == [4, 9, 11]
    torch.testing.assert_close(out["level_gamma"], torch.tensor([1.0, 0.1, 0.01]))
    torch.testing.assert_close(out["level_mu"], out["mu_trace"][out["level_step"]], rtol=0, atol=0)
    torch.testing.assert_close(out["level_mu"][-1], out["mu"], rtol=0, atol=0)
    torch.testing.assert_close(out["level_sigma"][-1], out["sigma"], rtol=0, atol=0)
    assert not torch.equal(out["level_sigma"][0], out["level_sigma"][1])  # σ* moved between levels


def test_sample_levels_draws_each_levels_normal_distribution():
    mu = torch.tensor([[0.0, 0.0], [3.0, -1.0]])
    sigma = torch.tensor([[1.0, 1.0], [0.5, 0.0]])
    n = 40_000
    z = algorithms.sample_levels(mu, sigma, n, torch.Generator().manual_seed(3))
    assert z.shape == (2, n, 2)
    torch.testing.assert_close(z[1, :, 1], torch.full((n,), -1.0), rtol=0, atol=0)  # σ* = 0: μ* itself
    for level, dim in ((0, 0), (0, 1), (1, 0)):
        draws = (z[level, :, dim] - mu[level, dim]) / sigma[level, dim]
        assert stats.kstest(draws.numpy(), "norm").pvalue > 1e-3, (level, dim)


def test_stochastic_runs_record_the_decoded_samples_of_every_level(root, trained_smoke_model):
    """One level per γ (the last cut short by the cap), its samples' physics that of the spins
    kept, and the last level's distribution the run's final σ*."""
    config = smoke_config(root)
    s = config["explore"]["stochastic"]
    ds, _ = search.run_pair(config, "stochastic", "Mz", trained_smoke_model, device=torch.device("cpu"),
                                 progress=False)
    levels = -(-s["max_iterations"] // s["gamma_every"])
    assert ds["level_W"].shape == (levels, s["level_samples"])
    assert ds["level_step"].values[-1] == s["max_iterations"] - 1
    kept = ds["level_spins"].values
    assert kept.shape[:2] == (levels, min(s["level_samples"], search.LEVEL_STATES))
    measured = observables.measure(torch.from_numpy(kept.reshape(-1, *kept.shape[2:])), HAM)
    for k in ("Mz", "W", "energy"):
        np.testing.assert_allclose(ds[f"level_{k}"].values[:, : kept.shape[1]].ravel(), measured[k].numpy(),
                                   rtol=0, atol=1e-9, err_msg=k)
    np.testing.assert_allclose(ds["level_objective"].values, ds["level_Mz"].values, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(ds["level_sigma"].values[-1], ds["sigma"].values)


@pytest.mark.parametrize("algorithm, name", [("single_code", "energy"), ("genetic", "Mz"), ("stochastic", "C_BC")])
def test_a_fixed_seed_reproduces_every_trajectory(root, trained_smoke_model, algorithm, name):
    config = smoke_config(root)
    runs = [search.run_pair(config, algorithm, name, trained_smoke_model, device=torch.device("cpu"),
                                 progress=False) for _ in range(2)]
    (a, sa), (b, sb) = runs
    for var in a.data_vars:
        np.testing.assert_array_equal(a[var].values, b[var].values, err_msg=var)
    for key in ("final_objective", "final_energy", "relaxed_energy", "decodes"):
        assert sa[key] == sb[key]
    assert sa["relaxed_energy"] <= sa["final_energy"] + 1e-9  # zero-temperature sweeps never raise ε
    if name == "C_BC":  # the run keeps the boundary map it was scored against, for Fig. 5e
        b = config["explore"]["objectives"]["C_BC"]["boundary"]
        L = config["lattice"]["L"]
        np.testing.assert_array_equal(a["boundary_map"].values,
                                      objectives.boundary_map(L, b["radius"] * L, b["width"], b["direction"]).numpy())
    else:
        assert "boundary_map" not in a


def _memory_checkpoint(every=0.0):
    """A Checkpoint that keeps each saved state as the bytes a checkpoint file would hold."""
    saved = []

    def save(state):
        buffer = io.BytesIO()
        torch.save(state, buffer)
        saved.append(buffer.getvalue())

    return algorithms.Checkpoint(save, every), saved


def _assert_same_run(a: dict, b: dict):
    assert a.keys() == b.keys()
    for k, v in a.items():
        if isinstance(v, torch.Tensor):
            assert torch.equal(v, b[k]), k
        else:
            assert v == b[k], k


@pytest.mark.parametrize("algorithm", ["single_code", "genetic", "stochastic"])
def test_an_explorer_resumed_from_any_checkpoint_ends_where_an_uninterrupted_run_does(algorithm):
    """Saved after every iteration but the last; resumed from the first, a middle and the last of
    these, with a generator seeded otherwise (its state must come from the checkpoint), each run
    ends bitwise where the uninterrupted one did, and saving does not perturb a run."""
    torch.manual_seed(2)
    decoder = VAE(VAEConfig(L=32, **SMALL)).eval().decoder
    for p in decoder.parameters():
        p.requires_grad_(False)
    iterations = 12

    def run(checkpoint=None, seed=0):
        g = torch.Generator().manual_seed(seed)
        codes = torch.randn(10, 8, generator=torch.Generator().manual_seed(1))  # the caller's draw
        if algorithm == "single_code":
            return algorithms.single_code(decoder, objective("energy"), codes[:4], iterations=iterations, lr=1e-2,
                                       record_every=3, checkpoint=checkpoint)
        if algorithm == "genetic":
            return algorithms.genetic(decoder, objective("W"), codes, generations=iterations, pressure=8.0,
                                   mutation_rate=0.05, generator=g, snapshots=(0, 5, iterations), checkpoint=checkpoint)
        return algorithms.stochastic(decoder, objective("Mz"), 8, samples=6, lr=1e-2, generator=g, gamma_every=4,
                                  sigma_tol=1e-9, max_iterations=iterations, record_every=2, checkpoint=checkpoint)

    whole = run()
    checkpoint, saved = _memory_checkpoint()
    _assert_same_run(whole, run(checkpoint))
    assert len(saved) == iterations - 1
    for blob in (saved[0], saved[5], saved[-1]):
        state = torch.load(io.BytesIO(blob), weights_only=True)  # as a checkpoint file is read
        _assert_same_run(whole, run(algorithms.Checkpoint(state=state), seed=99))


def test_a_checkpoint_is_saved_at_most_once_per_interval():
    toy = objectives.Objective("toy", False, lambda x: (x**2).sum(-1))
    checkpoint, saved = _memory_checkpoint(every=3600.0)
    algorithms.stochastic(lambda z: z, toy, 3, samples=4, lr=1e-2, generator=torch.Generator().manual_seed(0),
                       max_iterations=50, checkpoint=checkpoint)
    assert saved == []  # a run shorter than the interval saves nothing
    with pytest.raises(ValueError, match="-1"):
        algorithms.Checkpoint(lambda state: None, every=-1)


def test_a_search_stopped_after_a_checkpoint_resumes_from_it(root, trained_smoke_model, monkeypatch, tmp_path,
                                                               capsys):
    """The search is stopped right after its third checkpoint (as a job killed by a time limit); the
    rerun reads the file, says so, and writes what an uninterrupted run writes. The checkpoint of
    another search (here another seed) is ignored, with a message."""
    config = smoke_config(root)
    cpu = torch.device("cpu")
    model = trained_smoke_model
    whole, whole_summary = search.run_pair(config, "stochastic", "Mz", model, device=cpu, progress=False)
    path = tmp_path / "checkpoint.pt"
    save, saved_at = search.save_torch, []

    def save_then_stop(payload, p):
        save(payload, p)
        saved_at.append(payload["state"]["iteration"])
        if len(saved_at) == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(search, "save_torch", save_then_stop)
    with pytest.raises(KeyboardInterrupt):
        search.run_pair(config, "stochastic", "Mz", model, device=cpu, progress=False, checkpoint=path,
                             checkpoint_seconds=0)
    monkeypatch.undo()
    assert saved_at == [1, 2, 3] and path.exists()
    capsys.readouterr()
    resumed, summary = search.run_pair(config, "stochastic", "Mz", model, device=cpu, progress=False,
                                            checkpoint=path)
    assert f"resuming from {path} after 3 iterations" in capsys.readouterr().err
    for var in whole.data_vars:
        np.testing.assert_array_equal(whole[var].values, resumed[var].values, err_msg=var)
    for key in ("final_Mz", "final_W", "relaxed_energy", "decodes", "iterations"):
        assert summary[key] == whole_summary[key], key

    other = cfg.merge(config, {"seed": config["seed"] + 1})
    search.run_pair(other, "stochastic", "Mz", model, device=cpu, progress=False, checkpoint=path)
    assert f"ignoring {path}: it belongs to a different search" in capsys.readouterr().err
    path.write_bytes(b"not a checkpoint")
    search.run_pair(config, "stochastic", "Mz", model, device=cpu, progress=False, checkpoint=path)
    assert f"ignoring {path}: it cannot be read" in capsys.readouterr().err


def test_a_search_sent_sigterm_saves_its_iteration_and_stops(root, trained_smoke_model, tmp_path, monkeypatch):
    """SIGTERM (a time limit, scancel) during iteration 50: that iteration finishes, its state is
    saved (none was due: the interval is an hour) and the search stops; the rerun ends where an
    uninterrupted run does, and the signal handlers are the caller's again."""
    import os
    import signal

    config = smoke_config(root, stochastic={"max_iterations": 200, "gamma_every": 50, "level_samples": 2})
    cpu = torch.device("cpu")
    whole, _ = search.run_pair(config, "stochastic", "Mz", trained_smoke_model, device=cpu, progress=False)
    path = tmp_path / "checkpoint.pt"
    calls, kl = [], algorithms.kl_divergence

    def kl_then_sigterm(*args):  # the stochastic search's KL term: once per iteration
        calls.append(1)
        if len(calls) == 50:
            os.kill(os.getpid(), signal.SIGTERM)
        return kl(*args)

    monkeypatch.setattr(algorithms, "kl_divergence", kl_then_sigterm)
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(algorithms.SearchStopped) as stopped:
        search.run_pair(config, "stochastic", "Mz", trained_smoke_model, device=cpu, progress=False,
                             checkpoint=path, checkpoint_seconds=3600)
    monkeypatch.undo()
    assert signal.getsignal(signal.SIGTERM) is before
    assert stopped.value.iteration == 50 == len(calls)
    assert torch.load(path, weights_only=True)["state"]["iteration"] == 50
    resumed, _ = search.run_pair(config, "stochastic", "Mz", trained_smoke_model, device=cpu, progress=False,
                                      checkpoint=path)
    for var in whole.data_vars:
        np.testing.assert_array_equal(whole[var].values, resumed[var].values, err_msg=var)


def test_the_explore_command_checkpoints_as_told_and_removes_the_checkpoint(root, trained_smoke_model, tmp_path,
                                                                            monkeypatch, capsys):
    """The interval comes from --checkpoint-seconds or LATENTSPIN_CHECKPOINT_SECONDS (here 0: after
    every generation); a bad value stops the command before the search, naming where it came from;
    the checkpoint is gone once the outputs are written."""
    import json

    from latentspin import cli
    from latentspin.vae.model import save_model

    model_path = tmp_path / "model.pt"
    save_model(trained_smoke_model, model_path, extra={"beta": 1e-3})
    config = cfg.section_json(smoke_config(root), cfg.explore_sections("genetic"))
    out = tmp_path / "genetic" / "W"
    argv = ["explore", "--config", config, "--algorithm", "genetic", "--objective", "W", "--model", str(model_path),
            "--out-dir", str(out), "--device", "cpu", "--threads", "1"]
    save, saved = search.save_torch, []
    monkeypatch.setattr(search, "save_torch", lambda payload, path: (saved.append(path), save(payload, path)))

    monkeypatch.setenv(cli.CHECKPOINT_SECONDS_VARIABLE, "soon")
    assert cli.main(argv) == 2
    assert "LATENTSPIN_CHECKPOINT_SECONDS must be a number of seconds >= 0, got 'soon'" in capsys.readouterr().err
    assert cli.main(argv + ["--checkpoint-seconds", "-5"]) == 2
    assert "--checkpoint-seconds must be a number of seconds >= 0, got '-5'" in capsys.readouterr().err
    assert not out.exists() and saved == []

    monkeypatch.setenv(cli.CHECKPOINT_SECONDS_VARIABLE, "0")
    assert cli.main(argv) == 0
    generations = smoke_config(root)["explore"]["genetic"]["generations"]
    assert saved == [out / "checkpoint.pt"] * (generations - 1)
    assert (out / "trajectory.zarr").is_dir() and not (out / "checkpoint.pt").exists()
    assert json.loads((out / "summary.json").read_text())["decodes"] > 0


def test_the_decoder_amplitude_of_every_decoded_state_is_recorded(root, trained_smoke_model):
    """The initial and final states' output amplitudes are those of their codes (z and z*), and
    the prior reference is drawn from its own stream: the same for every pair, and the search's
    trajectory is that of a run that never drew it."""
    from latentspin.vae.model import decoder_amplitude

    config = smoke_config(root, single_code={"codes": 4, "iterations": 3, "record_every": 1})
    model = trained_smoke_model
    ds, summary = search.run_pair(config, "single_code", "energy", model, device=torch.device("cpu"),
                                       progress=False)
    for when, codes in (("initial", "z"), ("final", "z_star")):
        expected = decoder_amplitude(model.decoder, torch.from_numpy(ds[codes].values)).numpy()
        np.testing.assert_array_equal(ds[f"{when}_amplitude"].values, expected)
        assert summary[f"{when}_amplitude"] == pytest.approx(float(expected.mean()))
    assert "relaxed_amplitude" not in ds and "relaxed_amplitude" not in summary  # relaxed states are not decoded
    _, other = search.run_pair(config, "genetic", "W", model, device=torch.device("cpu"), progress=False)
    assert summary["prior_amplitude"] == other["prior_amplitude"] == ds.attrs["prior_amplitude"] > 0
    s = config["explore"]["single_code"]
    z0 = torch.randn(s["codes"], model.cfg.latent_dim,
                     generator=torch.Generator().manual_seed(summary["seed"]))
    alone = algorithms.single_code(model.decoder, objective("energy"), z0, iterations=s["iterations"], lr=s["lr"],
                                record_every=s["record_every"])
    np.testing.assert_array_equal(ds["z_star"].values, alone["z_star"].numpy())


def test_relaxation_is_the_kernels_zero_temperature_sweep():
    s = np.random.default_rng(1).normal(size=(2, 3, 16, 16))
    s /= np.linalg.norm(s, axis=1, keepdims=True)
    by_sweeps = s.copy()
    for _ in range(7):
        driver.sweep(by_sweeps, np.zeros((2, 2), np.uint64), 0.0, 0, HAM)
    np.testing.assert_array_equal(driver.relax(s, HAM, 7), by_sweeps.astype(np.float32))


def test_relaxation_runs_either_kernel_with_the_same_result(monkeypatch):
    """Small relaxations take the torch twin (no numba start-up), large ones numba: the same
    zero-temperature sweeps, so the same states to float32 rounding, whichever runs."""
    s = np.random.default_rng(2).normal(size=(3, 3, 16, 16))
    s /= np.linalg.norm(s, axis=1, keepdims=True)
    x = torch.from_numpy(s.astype(np.float32))
    small = search.relax_states(x, HAM, 9)  # 3 x 256 x 9 updates: torch
    monkeypatch.setattr(search, "TORCH_RELAX_MAX_UPDATES", 0)
    large = search.relax_states(x, HAM, 9)  # numba
    assert small.dtype == large.dtype == torch.float32
    np.testing.assert_allclose(small.numpy(), large.numpy(), atol=1e-6)
    np.testing.assert_array_equal(large.numpy(), driver.relax(x.numpy(), HAM, 9))
    assert not torch.equal(small, x)  # the sweeps moved the random spins


def test_relaxation_keeps_an_exact_spiral_and_lowers_a_noisy_one():
    s = textures.spiral(32, 1, 1, HAM).numpy()[None]
    np.testing.assert_allclose(driver.relax(s, HAM, 5), s, atol=1e-6)
    noisy = s + 0.3 * np.random.default_rng(0).normal(size=s.shape)
    noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
    e = lambda v: observables.energy_density(torch.from_numpy(np.asarray(v, np.float64)), HAM).item()  # noqa: E731
    assert e(driver.relax(noisy, HAM, 20)) < e(noisy)


def test_pairs_default_and_full_matrix(root):
    config = smoke_config(root, full_matrix=False)
    config["explore"]["pairs"] = {"single_code": ["energy"], "genetic": ["W", "Mz", "C", "energy"],
                                  "stochastic": ["Mz", "energy", "C_BC"]}
    assert len(cfg.explore_pairs(config)) == 8
    config["explore"]["full_matrix"] = True
    assert len(set(cfg.explore_pairs(config))) == 15


def test_nodal_points_count_peaks_above_threshold():
    local = torch.full((1, 16, 16), -2.0, dtype=torch.float64)
    local[0, 3, 3] = -0.2
    local[0, 3, 4] = -0.5  # a shoulder of the same peak, not a second point
    local[0, 10, 15] = -0.8
    local[0, 10, 0] = -1.0  # across the periodic boundary from the previous one
    local[0, 12, 12] = -1.8  # below the threshold
    assert observables.nodal_points(local, -1.5).tolist() == [2]


def test_measure_matches_the_single_definitions_whatever_the_batch():
    g = torch.Generator().manual_seed(7)
    s = torch.nn.functional.normalize(torch.randn(5, 3, 16, 16, generator=g, dtype=torch.float64), dim=1)
    m = observables.measure(s, HAM, nodal_threshold=-1.5, batch_size=2)
    torch.testing.assert_close(m["energy"], observables.energy_density(s, HAM))
    torch.testing.assert_close(m["W"], observables.topological_index(s))
    torch.testing.assert_close(m["Mz"], observables.magnetization_z(s))
    local = observables.local_energy_density(s, HAM)
    torch.testing.assert_close(m["max_local_energy"], local.amax(dim=(-2, -1)))
    assert m["nodal_points"].tolist() == observables.nodal_points(local, -1.5).tolist()


def test_the_latent_radius_of_every_decoded_state_is_recorded(root, trained_smoke_model):
    """The stochastic search starts at μ* = 0 (radius 0) and ends at its final μ*; the probes
    measure the traced μ* they decode; single-code's initial codes are prior draws (radius ≈ 1)."""
    config = smoke_config(root)
    model = trained_smoke_model
    cpu = torch.device("cpu")
    ds, summary = search.run_pair(config, "stochastic", "Mz", model, device=cpu, progress=False)
    n = model.cfg.latent_dim
    assert summary["initial_latent_radius"] == 0.0
    mu = ds["mu_trace"].values
    final_mu = ds["level_mu"].values[-1]  # the last level ends with the search's μ*
    assert summary["final_latent_radius"] == pytest.approx(np.linalg.norm(final_mu) / n**0.5, rel=1e-6)
    assert summary["final_latent_radius"] > 0
    probed = mu[np.searchsorted(ds["step"].values, ds["probe_step"].values)]
    np.testing.assert_allclose(ds["probe_latent_radius"].values, np.linalg.norm(probed, axis=1) / n**0.5, rtol=1e-6)
    assert "relaxed_latent_radius" not in summary  # a relaxed state has no code
    config = smoke_config(root, single_code={"codes": 64, "iterations": 2, "record_every": 1})
    ds, summary = search.run_pair(config, "single_code", "energy", model, device=cpu, progress=False)
    np.testing.assert_allclose(ds["initial_latent_radius"].values, np.linalg.norm(ds["z"].values, axis=1) / n**0.5,
                               rtol=1e-6)
    assert abs(summary["initial_latent_radius"] - 1) < 0.1  # 64 prior codes of N = 16: std 0.18 / 8


def test_every_final_state_is_kicked_and_judged(root, trained_smoke_model):
    """The stability check in a run: the kicked states are the kernel's kick of the final states with
    the pair's own random streams, measured like the others, and judged against their control (as many
    sweeps at T = 0)."""
    config = smoke_config(root)
    ds, summary = search.run_pair(config, "single_code", "energy", trained_smoke_model, device=torch.device("cpu"),
                                  progress=False)
    stability = config["explore"]["stability"]
    keys = sample_keys(config["seed"], "stability/single_code/energy", range(ds.sizes["state"]))
    kicked = search.kick_states(torch.from_numpy(ds["final_spins"].values), Hamiltonian.from_config(
        config["hamiltonian"]), stability, keys)
    np.testing.assert_array_equal(ds["kicked_spins"].values, kicked.numpy())
    measured = observables.measure(kicked, Hamiltonian.from_config(config["hamiltonian"]))
    np.testing.assert_allclose(ds["kicked_energy"].values, measured["energy"].numpy(), rtol=0, atol=1e-12)
    # the control: the relaxed states relaxed on to as many sweeps as the kick's, all at T = 0
    control = search.relax_states(torch.from_numpy(ds["relaxed_spins"].values), Hamiltonian.from_config(
        config["hamiltonian"]), stability["sweeps"] + stability["quench_sweeps"] - config["explore"]["relax_sweeps"])
    settled = observables.measure(control, Hamiltonian.from_config(config["hamiltonian"]))
    np.testing.assert_allclose(ds["settled_energy"].values, settled["energy"].numpy(), rtol=0, atol=1e-12)
    verdict = search.survived_kick({q: ds[f"settled_{q}"].values for q in ("energy", "W", "Mz")},
                                   {q: ds[f"kicked_{q}"].values for q in ("energy", "W", "Mz")}, stability)
    np.testing.assert_array_equal(ds["survived_kick"].values, verdict.astype(np.int8))
    assert summary["survived_kick"] == int(verdict.sum()) and 0 <= summary["survived_kick"] <= summary["states"]
    assert summary["kicked_energy"] == pytest.approx(float(measured["energy"].mean()))
    assert ds.attrs["stability_temperature"] == stability["temperature"]
