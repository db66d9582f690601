"""The stability check of every final state: a thermal kick that a saddle of H does not survive."""

import numpy as np
import pytest
import torch
from latentspin.core.seeds import sample_keys
from latentspin.explore import search
from latentspin.physics import hamiltonian, observables, textures
from latentspin.physics.hamiltonian import Hamiltonian

STABILITY = {"temperature": 0.05, "sweeps": 1000, "quench_sweeps": 200, "energy_tolerance": 5e-3, "mz_tolerance": 0.05}
L = 32


def checks(x, ham):
    """(relaxed, kicked) metrics of states x, as run_pair computes them."""
    keys = sample_keys(1, "stability-test", range(len(x)))
    relaxed = search.relax_states(x, ham, 200)
    kicked = search.kick_states(x, ham, STABILITY, keys)
    return observables.measure(relaxed, ham), observables.measure(kicked, ham)


def test_the_polarized_state_is_a_saddle_at_zero_field_and_a_minimum_in_a_field():
    """Zero-temperature relaxation keeps the polarized state at B = 0 (a stationary point), the kick
    turns it into a spiral: it does not survive. At B = 0.1, above every spiral's gain over it, it
    is a minimum and survives. The ground-state spiral survives at B = 0."""
    up = torch.zeros(2, 3, L, L)
    up[:, 2] = 1.0
    zero, field = Hamiltonian(), Hamiltonian(B=0.1)
    relaxed, kicked = checks(up, zero)
    assert (relaxed["Mz"] == 1.0).all() and (kicked["Mz"].abs() < 0.05).all()
    assert not search.survived_kick(relaxed, kicked, STABILITY).any()
    assert search.survived_kick(*checks(up, field), STABILITY).all()
    n, m, _ = hamiltonian.lattice_ground_state(L, zero)
    spiral = textures.spiral(L, n, m, zero).float()[None].repeat(2, 1, 1, 1)
    assert search.survived_kick(*checks(spiral, zero), STABILITY).all()


@pytest.mark.parametrize("change, survives", [
    ({}, True),
    ({"energy": -0.004}, True),  # still relaxing, as annealed labyrinths do under the kick
    ({"energy": +0.01}, True),  # a kick that leaves ε higher did not find a lower state
    ({"energy": -0.006}, False),
    ({"Mz": 0.06}, False),
    ({"Mz": -0.049}, True),
    ({"W": 1.0}, False),  # a skyrmion unwound or was made
    ({"W": 1e-7}, True),  # W is compared as an integer
])
def test_survival_is_judged_against_the_relaxed_state(change, survives):
    relaxed = {"energy": np.array([-2.03]), "W": np.array([-3.0]), "Mz": np.array([0.4])}
    kicked = {k: v + change.get(k, 0.0) for k, v in relaxed.items()}
    assert search.survived_kick(relaxed, kicked, STABILITY)[0] == survives


def test_the_small_kick_runs_the_torch_twin_with_the_numba_kernels_numbers():
    """A small kick runs on the kernel's torch twin (numba's start-up would cost more): the same
    random streams and draws, so a few sweeps agree with the numba kernel's to float rounding."""
    from latentspin.anneal.driver import kick

    s = torch.randn(3, 3, 16, 16, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    s = (s / s.norm(dim=1, keepdim=True)).float()
    keys = sample_keys(9, "stability-test", range(3))
    short = dict(STABILITY, sweeps=3, quench_sweeps=2)
    for ham in (Hamiltonian(), Hamiltonian(0.7, 0.45, "neel", B=0.3)):
        twin = search.kick_states(s, ham, short, keys)
        numba = torch.from_numpy(kick(s.numpy(), ham, short["temperature"], 3, 2, keys))
        assert not torch.allclose(twin, s, atol=1e-2)
        torch.testing.assert_close(twin, numba, atol=1e-5, rtol=0)
