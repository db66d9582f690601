"""The torch heat-bath path (issue 6) against exact results and against the numba kernel."""

import math

import numpy as np
import pytest
import torch
from scipy import stats

from latentspin import montecarlo as mc
from latentspin import hamiltonian, physics, textures
from latentspin import torch_kernel as tk
from latentspin.physics import Hamiltonian

HAM = Hamiltonian(1.0, 0.3, "bloch")


def langevin(a):
    return 1 / math.tanh(a) - 1 / a


def exact_cdf(c, a):
    return (np.exp(a * c) - np.exp(-a)) / (np.exp(a) - np.exp(-a))


@pytest.mark.parametrize("a", [0.01, 1.0, 50.0])
@pytest.mark.parametrize("direction", [(0.3, -0.5, 0.81), (0.0, 0.0, 1.0), (0.0, 0.0, -1.0), (1.0, 0.0, 0.0)])
def test_draws_follow_boltzmann_about_the_field(a, direction):
    """cos θ about h passes a KS test against exp(a cos θ), its mean is the Langevin function,
    the azimuth is uniform, and the spins are unit vectors, whatever the field's direction."""
    n = 40_000
    n_hat = torch.tensor(direction, dtype=torch.float64) / torch.linalg.vector_norm(torch.tensor(direction))
    h = (2.0 * n_hat).reshape(1, 3, 1, 1).expand(n, 3, 1, 1).contiguous()
    s = tk.heat_bath_draw(h, T=2.0 / a, generator=torch.Generator().manual_seed(int(a * 100) + 1))
    s = s.reshape(n, 3).numpy()
    np.testing.assert_allclose(np.linalg.norm(s, axis=1), 1.0, atol=1e-12)
    c = s @ n_hat.numpy()
    assert stats.kstest(c, lambda x: exact_cdf(x, a)).pvalue > 1e-3
    var = 1 - 2 * langevin(a) / a - langevin(a) ** 2
    assert abs(c.mean() - langevin(a)) < 5 * math.sqrt(var / n)
    helper = np.array([1.0, 0, 0]) if abs(n_hat[0]) < 0.9 else np.array([0, 1.0, 0])
    e1 = np.cross(n_hat.numpy(), helper)
    e1 /= np.linalg.norm(e1)
    phi = np.arctan2(s @ np.cross(n_hat.numpy(), e1), s @ e1)
    if a < 50:  # at a = 50 the spins sit on the field and the azimuth is resolution-limited
        assert stats.kstest(phi, stats.uniform(-np.pi, 2 * np.pi).cdf).pvalue > 1e-3


def test_zero_temperature_aligns_and_zero_field_draws_uniformly():
    h = torch.randn(5, 3, 4, 4, dtype=torch.float64)
    torch.testing.assert_close(tk.heat_bath_draw(h, 0.0), h / h.norm(dim=1, keepdim=True))
    s = tk.heat_bath_draw(torch.zeros(20_000, 3, 1, 1, dtype=torch.float64), 1.0, torch.Generator().manual_seed(0))
    assert stats.kstest(s[:, 2].flatten().numpy(), stats.uniform(-1, 2).cdf).pvalue > 1e-3


def test_a_half_sweep_moves_one_sublattice_only():
    even, odd = tk.checkerboard(8)
    assert (even ^ odd).all() and not torch.roll(even, 1, dims=0)[even].any()  # neighbours are odd
    s = tk.random_spins(2, 8, torch.Generator().manual_seed(1))
    new = torch.where(even, tk.heat_bath_draw(physics.local_field(s, HAM), 0.5, torch.Generator()), s)
    assert torch.equal(new[..., odd], s[..., odd]) and not torch.equal(new[..., even], s[..., even])


def test_high_temperature_energy_matches_series():
    """Detailed balance at high T: <ε> = -2β(3J² + 2D²)/9 + O(β³), as for the numba kernel."""
    beta, g = 0.05, torch.Generator().manual_seed(2)
    s = tk.random_spins(16, 32, g)
    trace = []
    for t in range(600):
        s = tk.sweep(s, HAM, 1 / beta, g)
        if t >= 20:
            trace.append(physics.energy_density(s, HAM).numpy())
    trace = np.array(trace)
    expected = -2 * beta * (3 * HAM.J**2 + 2 * HAM.D**2) / 9
    stderr = trace.std() / np.sqrt(trace.size)
    assert abs(trace.mean() - expected) < 5 * stderr + 1e-3 * abs(expected)
    assert 5 * stderr < 0.05 * abs(expected)


def test_low_temperature_equipartition():
    """About the spiral ground state each spin has two harmonic modes: <ε> - ε_0 = T."""
    L, T, g = 32, 1e-3, torch.Generator().manual_seed(3)
    n_q, m_q, e0 = hamiltonian.lattice_ground_state(L, HAM)
    s = textures.spiral(L, n_q, m_q, HAM)[None].repeat(8, 1, 1, 1)
    trace = []
    for t in range(300):
        s = tk.sweep(s, HAM, T, g)
        if t >= 100:
            trace.append(physics.energy_density(s, HAM).mean().item())
    assert (np.mean(trace) - e0) / T == pytest.approx(1.0, rel=0.05)


def test_annealed_samples_agree_with_the_numba_kernel():
    """The same schedule from random starts: ε and |Mz| of the torch and numba samples agree
    within sampling error (Welch t-test), and both are unit spins with integer W."""
    schedule = mc.Schedule(T_start=3.0, T_end=0.01, sweeps=200, quench_sweeps=50)
    n, L = 24, 32
    numba = torch.from_numpy(mc.anneal(mc.sample_keys(4, "train", range(n)), L, HAM, schedule, threads=2)).double()
    g = torch.Generator().manual_seed(4)
    s = tk.random_spins(n, L, g)
    for T in schedule.temperatures():
        s = tk.sweep(s, HAM, float(T), g)
    for _ in range(schedule.quench_sweeps):
        s = tk.sweep(s, HAM, 0.0, g)
    np.testing.assert_allclose(s.norm(dim=1).numpy(), 1.0, atol=1e-12)
    w = physics.topological_index(s).numpy()
    np.testing.assert_allclose(w, np.round(w), atol=1e-6)
    for q in (lambda x: physics.energy_density(x, HAM), lambda x: physics.magnetization_z(x).abs()):
        a, b = q(numba).numpy(), q(s).numpy()
        assert stats.ttest_ind(a, b, equal_var=False).pvalue > 1e-3, (a.mean(), b.mean())
