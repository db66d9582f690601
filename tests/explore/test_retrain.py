"""Weighted retraining (explore.retrain): the rank weights, the resample, and a toy problem whose
answer is known: a decoder whose range misses the optimum reaches it after one round."""

import math

import numpy as np
import pytest
import torch
from latentspin.explore import algorithms, objectives, retrain
from latentspin.explore.search import relax_states
from latentspin.physics.hamiltonian import Hamiltonian
from latentspin.vae import training
from latentspin.vae.model import VAE, VAEConfig


def test_rank_weights_are_tripps():
    """w_i ∝ 1/(kN + rank_i), rank 0 the best; ties in pool order; they sum to 1."""
    w = retrain.rank_weights(torch.tensor([3.0, 1.0, 2.0]), maximize=True, k=1.0)
    expected = torch.tensor([1 / 3, 1 / 5, 1 / 4], dtype=torch.float64)
    torch.testing.assert_close(w, expected / expected.sum())
    w = retrain.rank_weights(torch.tensor([3.0, 1.0, 2.0]), maximize=False, k=1.0)
    torch.testing.assert_close(w, torch.tensor([1 / 5, 1 / 3, 1 / 4], dtype=torch.float64) / expected.sum())
    tied = retrain.rank_weights(torch.tensor([1.0, 1.0]), maximize=True, k=0.5)
    torch.testing.assert_close(tied, torch.tensor([1 / 1.0, 1 / 2.0], dtype=torch.float64) / 1.5)
    flat = retrain.rank_weights(torch.arange(100.0), maximize=True, k=1e6)
    assert float(flat.max() / flat.min()) < 1 + 1e-5  # large k: the plain data
    sharp = retrain.rank_weights(torch.arange(100.0), maximize=True, k=1e-4)
    assert float(sharp[99]) > 0.19 and float(sharp[99] / sharp[0]) > 1000  # small k: the best dominate
    for bad in (0.0, -1.0):
        with pytest.raises(ValueError, match="k must be > 0"):
            retrain.rank_weights(torch.zeros(3), True, bad)
    with pytest.raises(ValueError, match="finite"):
        retrain.rank_weights(torch.tensor([0.0, math.nan]), True, 1.0)


def test_the_resample_follows_the_weights():
    pool = torch.arange(4.0).view(4, 1, 1, 1).expand(4, 3, 2, 2)
    values = torch.tensor([0.0, 3.0, 1.0, 2.0])
    drawn = retrain.retraining_set(pool, values, True, 0.25, 40_000, torch.Generator().manual_seed(0))
    counts = np.bincount(drawn[:, 0, 0, 0].long().numpy(), minlength=4) / 40_000
    np.testing.assert_allclose(counts, retrain.rank_weights(values, True, 0.25).numpy(), atol=0.01)
    with pytest.raises(ValueError, match="one objective value per state"):
        retrain.retraining_set(pool, values[:3], True, 1.0, 4, torch.Generator())
    # a pool in parts (the data, then the found states) draws exactly what the whole pool draws
    parts = (pool[:1], pool[1:])
    whole = retrain.retraining_set(pool, values, True, 0.25, 500, torch.Generator().manual_seed(1))
    torch.testing.assert_close(retrain.retraining_set(parts, values, True, 0.25, 500,
                                                      torch.Generator().manual_seed(1)), whole, rtol=0, atol=0)
    with pytest.raises(ValueError, match="4 values for 3 states"):
        retrain.retraining_set((pool[:1], pool[2:]), values, True, 1.0, 4, torch.Generator())


def test_a_decoder_that_misses_the_optimum_reaches_it_after_retraining(tmp_path):
    """Toy problem with a known answer. The data: uniform states lying in the plane (Mz = 0), in
    every direction. In a field B along +z the optimum of Mz is 1, the polarized state, which the
    decoder never saw: a search for Mz on it stops short (its best about 0.5 here). Relaxed by the real Hamiltonian in the field,
    the found states turn to +z (each spin follows 4J S + B ẑ: a uniform state stays uniform and
    turns towards the field). Fine-tuned on the data and those relaxed states, weighted by rank of
    Mz, the decoder renders the polarized state, and the same search reaches Mz = 1."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one thread: the same sums, so the same decoder, whatever ran before
    try:
        _toy(tmp_path)
    finally:
        torch.set_num_threads(threads)


def _toy(tmp_path):
    L, n = 32, 128
    g = torch.Generator().manual_seed(0)
    theta = torch.full((n,), math.pi / 2, dtype=torch.float64)
    phi = 2 * math.pi * torch.rand(n, generator=g, dtype=torch.float64)
    d = torch.stack([theta.sin() * phi.cos(), theta.sin() * phi.sin(), theta.cos()], 1)
    x = d[:, :, None, None].expand(n, 3, L, L).float().contiguous()
    train, valid = x[:112], x[112:]
    torch.manual_seed(0)
    model = VAE(VAEConfig(L=L, latent_dim=8, encoder_channels=(8, 16, 16, 16), decoder_channels=(16, 16, 8, 3),
                          dense=32))
    training.fit(model, train, valid, training.TrainConfig(beta=1e-3, epochs=10, batch_size=16, lr=3e-3, seed=0),
                 tmp_path / "train.pt", {}, progress=False)
    model.extra = {"beta": 1e-3}
    ham = Hamiltonian(1.0, 0.3, "bloch", B=0.5)
    mz = objectives.build("Mz", L, ham)

    def best_found(m):
        m = m.eval()
        for p in m.parameters():
            p.requires_grad_(False)
        z0 = torch.randn(16, 8, generator=torch.Generator().manual_seed(1))
        out = algorithms.single_code(m.decoder, mz, z0, iterations=200, lr=0.05)
        with torch.no_grad():
            return m.decoder(out["z_star"])

    found = best_found(model)
    assert float(train[:, 2].abs().max()) < 1e-7
    short = 1 - float(found[:, 2].mean((1, 2)).max())
    assert short > 0.02  # the decoder's range ends short of the optimum
    relaxed = relax_states(found, ham, 200)
    assert (relaxed[:, 2] > 0.999).all()  # the physics carries the found states to it
    pool = torch.cat([train, relaxed])
    tuned, history = retrain.fine_tune(model, pool, pool[:, 2].mean((1, 2)), True, valid, k=0.01, epochs=10, lr=3e-3,
                                       batch_size=16, seed=0, checkpoint=tmp_path / "retrain.pt")
    after = 1 - float(best_found(tuned)[:, 2].mean((1, 2)).max())
    assert after < 1e-4 and after < short / 100  # measured: 0.50 short before, 1.1e-5 after (one thread)
    assert list(history["epoch"]) == list(range(1, 11)) and np.isfinite(history["valid_rc"]).all()
    assert tuned.extra == model.extra and next(model.parameters()) is not next(tuned.parameters())


def test_the_levels_samples_enter_the_pool_through_both_checks(tmp_path):
    """A stochastic search's kept level samples go through the final states' checks: the
    ground-state spiral survives the kick and enters relaxed (itself); the polarized state, a
    saddle at zero field, enters as the spiral the kick turns it into; a level the search never
    reached (NaN) adds nothing."""
    import xarray as xr
    from latentspin.physics import hamiltonian, observables, textures

    L, ham = 32, Hamiltonian()
    n, m, ground = hamiltonian.lattice_ground_state(L, ham)
    spiral = textures.spiral(L, n, m, ham).float()
    up = torch.zeros(3, L, L)
    up[2] = 1.0
    levels = torch.stack([torch.stack([spiral, up]), torch.full((2, 3, L, L), float("nan"))])
    store = tmp_path / "trajectory.zarr"
    xr.Dataset({"level_spins": (("level", "sample", "component", "y", "x"), levels.numpy())},
               attrs={"algorithm": "stochastic", "objective": "Mz"}).to_zarr(store)
    config = {"seed": 3, "hamiltonian": {"J": 1.0, "D": 0.3, "B": 0.0, "dmi": "bloch"},
              "explore": {"relax_sweeps": 200, "stability": {"temperature": 0.05, "sweeps": 1000, "quench_sweeps": 200,
                                                             "energy_tolerance": 5e-3, "mz_tolerance": 0.05}}}
    states, survived = retrain.found_level_states(store, config)
    assert survived.tolist() == [True, False]
    measured = observables.measure(states, ham)
    assert abs(measured["energy"][0] - ground) < 1e-6
    assert abs(measured["Mz"][1]) < 0.05 and measured["energy"][1] < -2.03  # a spiral, not the +z state
