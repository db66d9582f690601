"""The annealing kernel against the energy function, the NumPy reference and thermodynamics."""

import numpy as np
import pytest
import torch
from latentspin.anneal import driver as mc
from latentspin.anneal import heatbath_numba, heatbath_numpy
from latentspin.anneal.schedule import Schedule
from latentspin.core.seeds import sample_keys
from latentspin.physics import hamiltonian, observables, textures
from latentspin.physics.hamiltonian import Hamiltonian

HAMS = [Hamiltonian(1.0, 0.3, "bloch"), Hamiltonian(1.0, 0.3, "neel"), Hamiltonian(0.7, -0.45, "bloch"),
        Hamiltonian(1.0, 0.3, "bloch", B=0.4), Hamiltonian(0.7, 0.45, "neel", B=1.7)]
IN_FIELD = HAMS[3:]
ham_id = lambda h: f"{h.dmi}-D{h.D}-B{h.B}"  # noqa: E731


def random_spins(n, L, seed=0):
    s = np.random.default_rng(seed).normal(size=(n, 3, L, L))
    return s / np.linalg.norm(s, axis=1, keepdims=True)


def energy(spins, ham):
    return observables.energy_density(torch.from_numpy(np.asarray(spins, dtype=np.float64)), ham).numpy()


@pytest.mark.parametrize("ham", HAMS, ids=ham_id)
def test_kernel_field_is_the_energy_gradient(ham):
    """The field the kernel samples in is observables.local_field, so the energy change the kernel
    implies, -h.ΔS, is the change of the energy function for any single-spin move."""
    L = 8
    s = random_spins(1, L, seed=1)[0]
    h_ref = observables.local_field(torch.from_numpy(s), ham).numpy()
    rng = np.random.default_rng(2)
    for y, x in [(0, 0), (0, L - 1), (L - 1, 0), (L - 1, L - 1), (3, 4), (4, 4)]:
        h = np.array(heatbath_numba.site_field(s, y, x, *heatbath_numba.couplings(ham)))
        np.testing.assert_allclose(h, h_ref[:, y, x], atol=1e-13)
        new = rng.normal(size=3)
        new /= np.linalg.norm(new)
        moved = s.copy()
        moved[:, y, x] = new
        dH = (energy(moved, ham) - energy(s, ham)) * L * L
        assert dH == pytest.approx(-h @ (new - s[:, y, x]), abs=1e-12)


@pytest.mark.parametrize("ham", [*HAMS[:2], *IN_FIELD], ids=ham_id)
@pytest.mark.parametrize("T", [5.0, 0.7, 0.02, 0.0])
def test_kernel_matches_numpy_reference(ham, T):
    """Same random numbers, same update: the vectorized kernel (polynomial log/exp/sincos) and
    the NumPy reference (libm) agree to rounding after two sweeps."""
    L = 12
    s = random_spins(3, L, seed=3)
    keys = sample_keys(11, "train", range(3))
    a, b = s.copy(), s.copy()
    for t in (1, 2):
        mc.sweep(a, keys, T, t, ham)
        heatbath_numpy.sweep(b, keys, T, t, ham)
    assert np.abs(a - b).max() < 1e-12
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-14)


def test_checkerboard_layout_round_trip():
    s = random_spins(1, 16, seed=4)[0]
    cb = heatbath_numba.to_checkerboard(s)
    back = np.empty_like(s)
    heatbath_numba.from_checkerboard(cb, back)
    np.testing.assert_array_equal(back, s)
    np.testing.assert_array_equal(cb[..., 0], cb[..., -2])  # periodic ghost columns
    np.testing.assert_array_equal(cb[..., -1], cb[..., 1])


def test_random_initial_state_is_uniform_on_the_sphere():
    from scipy import stats

    L = 64
    cb = np.empty((2, 3, L, L // 2 + 2))
    heatbath_numba.random_state(cb, np.uint64(3), np.uint64(4))
    s = np.empty((3, L, L))
    heatbath_numba.from_checkerboard(cb, s)
    np.testing.assert_allclose(np.linalg.norm(s, axis=0), 1.0, atol=1e-14)
    for k in range(3):
        assert stats.kstest(s[k].ravel(), stats.uniform(-1, 2).cdf).pvalue > 1e-3


@pytest.mark.parametrize("ham", IN_FIELD, ids=ham_id)
def test_quench_in_a_field_never_raises_energy_and_keeps_the_polarized_state(ham):
    """In a field the quench still never raises ε; the state polarized along the field is a fixed
    point (each spin's field J Σ S_nb + B ẑ is along +z: the DM terms cancel in a uniform state)."""
    s = random_spins(2, 16, seed=5)
    e = [energy(s, ham)]
    for _ in range(20):
        mc.sweep(s, np.zeros((2, 2), np.uint64), 0.0, 0, ham)
        e.append(energy(s, ham))
    assert (np.diff(np.array(e), axis=0) <= 1e-13).all() and e[-1].mean() < e[0].mean() - 0.5
    up = np.zeros((1, 3, 16, 16))
    up[:, 2] = 1.0
    mc.sweep(up, np.zeros((1, 2), np.uint64), 0.0, 0, ham)
    assert (up[:, 2] == 1.0).all() and energy(up, ham)[0] == pytest.approx(-2 * ham.J - ham.B, abs=1e-14)


@pytest.mark.parametrize("ham", HAMS[:2], ids=lambda h: h.dmi)
def test_quench_never_raises_energy_and_keeps_the_spiral(ham):
    s = random_spins(2, 16, seed=5)
    e = [energy(s, ham)]
    for _ in range(20):
        mc.sweep(s, np.zeros((2, 2), np.uint64), 0.0, 0, ham)
        e.append(energy(s, ham))
    assert (np.diff(np.array(e), axis=0) <= 1e-13).all()
    # the exact spiral is a fixed point: every spin already lies along its field
    spiral = textures.spiral(32, 2, 1, ham).numpy()[None].copy()
    before = spiral.copy()
    mc.sweep(spiral, np.zeros((1, 2), np.uint64), 0.0, 0, ham)
    np.testing.assert_allclose(spiral, before, atol=1e-12)


def test_high_temperature_energy_matches_series():
    """Detailed balance at high T: <ε> = -2β(3J² + 2D²)/9 + O(β³) (each bond's energy
    -S_i·A·S_j has <e²> = |A|²/9 at infinite temperature; odd moments and loops enter at β³)."""
    ham = Hamiltonian(1.0, 0.3, "bloch")
    beta, L, n, sweeps, burn = 0.05, 32, 16, 1000, 20
    s = random_spins(n, L, seed=6)
    keys = sample_keys(1, "hiT", range(n))
    trace = []
    for t in range(1, sweeps + 1):
        mc.sweep(s, keys, 1 / beta, t, ham)
        if t > burn:
            trace.append(energy(s, ham))
    trace = np.array(trace)
    expected = -2 * beta * (3 * ham.J**2 + 2 * ham.D**2) / 9
    stderr = trace.std() / np.sqrt(trace.size)  # sweeps decorrelate within one at β = 0.05
    assert abs(trace.mean() - expected) < 5 * stderr + 1e-3 * abs(expected)
    assert 5 * stderr < 0.05 * abs(expected)  # the test resolves a 5 % error


@pytest.mark.parametrize("B", [0.8, 2.0])
def test_high_temperature_series_in_a_field(B):
    """<H> = -β κ2 + β² κ3 / 2 - ... with κn the cumulants of H at infinite temperature. The
    Zeeman term -B S_z adds <(B S_z)²> = B²/3 per site to κ2; κ3, zero without a field, gains
    the 3! orderings of (-B S_z,i)(-B S_z,j)(-J S_i·S_j) on each of the 2N bonds, each
    -B²J <S_z²>² = -B²J/9 (the DM terms average out): κ3/N = -4B²J/3. So
    <ε> = -β(6J² + 4D² + 3B²)/9 - 2β²B²J/3 + O(β³), and from ∂ ln Z/∂B,
    <Mz> = βB/3 + 4β²BJ/9 + O(β³) (Curie's law, raised by the exchange as in Curie–Weiss)."""
    ham = Hamiltonian(1.0, 0.3, "bloch", B=B)
    beta, L, n, sweeps, burn = 0.05, 32, 16, 1000, 20
    s = random_spins(n, L, seed=7)
    keys = sample_keys(1, "hiT-B", range(n))
    e_trace, m_trace = [], []
    for t in range(1, sweeps + 1):
        mc.sweep(s, keys, 1 / beta, t, ham)
        if t > burn:
            e_trace.append(energy(s, ham))
            m_trace.append(s[:, 2].mean(axis=(-2, -1)))
    eps = -beta * (6 * ham.J**2 + 4 * ham.D**2 + 3 * B**2) / 9 - 2 * beta**2 * B**2 * ham.J / 3
    mz = beta * B / 3 + 4 * beta**2 * B * ham.J / 9
    for trace, expected in ((np.array(e_trace), eps), (np.array(m_trace), mz)):
        stderr = trace.std() / np.sqrt(trace.size)  # sweeps decorrelate within one at β = 0.05
        assert abs(trace.mean() - expected) < 5 * stderr + 1e-3 * abs(expected)
        assert 5 * stderr < 0.1 * abs(expected)  # the test resolves a 10 % error
    # the field's share is resolved: the zero-field series is off by more than 5 standard errors
    e = np.array(e_trace)
    assert abs(e.mean() + beta * (6 * ham.J**2 + 4 * ham.D**2) / 9) > 5 * e.std() / np.sqrt(e.size)


def test_at_zero_field_the_kernel_is_bitwise_the_field_free_one():
    """The field enters the kernel only where B ≠ 0: at B = 0 an anneal, a relaxation and a sweep
    give, bit for bit, what the kernel gave before the field existed (digests recorded from that
    code, commit 8ec2572; the kernel uses no libm and no fast-math, so they hold on every CPU)."""
    import hashlib

    digests = {}
    for dmi in ("bloch", "neel"):
        ham = Hamiltonian(1.0, 0.3, dmi, B=0.0)
        keys = sample_keys(7, "golden", range(3))
        s = mc.anneal(keys, 16, ham, Schedule(sweeps=40, quench_sweeps=5), threads=1)
        r = mc.relax(s, ham, 7, threads=1)
        w = s.astype(np.float64)
        mc.sweep(w, keys, 0.4, 41, ham, threads=1)
        digests[dmi] = hashlib.sha256(s.tobytes() + r.tobytes() + w.tobytes()).hexdigest()[:16]
    assert digests == {"bloch": "5e3669772fbfc854", "neel": "4a765a9255f5b702"}
    # and the field does change them
    s_b = mc.anneal(sample_keys(7, "golden", range(3)), 16, Hamiltonian(1.0, 0.3, "bloch", B=0.1),
                    Schedule(sweeps=40, quench_sweeps=5), threads=1)
    assert not np.array_equal(s_b, s)


def test_low_temperature_equipartition():
    """Detailed balance at low T: about the spiral ground state each spin has two harmonic
    degrees of freedom, so <ε> - ε_0 = T (k_B = 1) up to O(T²)."""
    ham = Hamiltonian(1.0, 0.3, "bloch")
    L, T, n = 32, 1e-3, 8
    n_q, m_q, e0 = hamiltonian.lattice_ground_state(L, ham)
    s = np.repeat(textures.spiral(L, n_q, m_q, ham).numpy()[None], n, axis=0).copy()
    keys = sample_keys(2, "lowT", range(n))
    trace = []
    for t in range(1, 301):
        mc.sweep(s, keys, T, t, ham)
        if t > 100:
            trace.append(energy(s, ham))
    excess = (np.array(trace).mean() - e0) / T
    assert excess == pytest.approx(1.0, rel=0.05)


def test_annealing_reaches_labyrinth_energy():
    """A full anneal (random start, cooling, quench) of a small lattice ends within 1 % of the
    lattice ground state, with unit spins and integer W."""
    ham = Hamiltonian(1.0, 0.3, "bloch")
    schedule = Schedule(T_start=3.0, T_end=0.01, sweeps=300, quench_sweeps=50)
    s = mc.anneal(sample_keys(3, "train", range(4)), 32, ham, schedule, threads=2)
    assert s.dtype == np.float32 and s.shape == (4, 3, 32, 32)
    np.testing.assert_allclose(np.linalg.norm(s.astype(np.float64), axis=1), 1.0, atol=2e-7)
    _, _, e0 = hamiltonian.lattice_ground_state(32, ham)
    e = energy(s, ham)
    assert ((e - e0) / abs(e0) < 0.01).all()
    W = observables.topological_index(torch.from_numpy(s).double()).numpy()
    np.testing.assert_allclose(W, np.round(W), atol=1e-6)


def test_sample_depends_only_on_its_key():
    """The same sample whatever the batch it runs in and the number of threads, and on rerun."""
    ham = Hamiltonian()
    schedule = Schedule(sweeps=30, quench_sweeps=5)
    keys = sample_keys(7, "train", range(5))
    full = mc.anneal(keys, 16, ham, schedule, threads=2)
    np.testing.assert_array_equal(mc.anneal(keys, 16, ham, schedule, threads=2), full)
    np.testing.assert_array_equal(mc.anneal(keys, 16, ham, schedule, threads=1), full)
    np.testing.assert_array_equal(mc.anneal(keys[3:], 16, ham, schedule, threads=1), full[3:])
    other = mc.anneal(sample_keys(8, "train", range(1)), 16, ham, schedule, threads=1)
    assert not np.array_equal(other[0], full[0])


def test_sample_keys():
    a = sample_keys(1, "train", [0, 1, 2])
    assert a.dtype == np.uint64 and a.shape == (3, 2)
    np.testing.assert_array_equal(sample_keys(1, "train", [2]), a[2:])
    assert len({tuple(k) for k in a} | {tuple(k) for k in sample_keys(1, "valid", [0, 1, 2])}) == 6


def test_schedule():
    s = Schedule(T_start=3.0, T_end=0.01, sweeps=100, cooling="linear", hold_fraction=0.05)
    T = s.temperatures()
    assert len(T) == 100 and T[0] == 3.0 and (T[95:] == 0.01).all() and T[94] == pytest.approx(0.01)
    assert (np.diff(T) <= 0).all()
    T = Schedule(T_start=2.0, T_end=0.02, sweeps=11, cooling="exponential", hold_fraction=0).temperatures()
    np.testing.assert_allclose(T[1:] / T[:-1], (0.01) ** 0.1)


@pytest.mark.parametrize("kwargs, key", [
    (dict(T_end=-0.1), "T_end"), (dict(T_start=0.001), "T_start"), (dict(sweeps=0), "sweeps"),
    (dict(cooling="quadratic"), "cooling"), (dict(hold_fraction=1.0), "hold_fraction"),
    (dict(quench_sweeps=-1), "quench_sweeps"),
])
def test_schedule_rejects_bad_values(kwargs, key):
    with pytest.raises(ValueError, match=key):
        Schedule(**kwargs)


def test_anneal_rejects_odd_lattice():
    with pytest.raises(ValueError, match="lattice.L"):
        mc.anneal(sample_keys(0, "train", [0]), 15, Hamiltonian(), Schedule(sweeps=1))


def test_anneal_device_picks_the_kernel(monkeypatch):
    """cpu: numba; cuda: the torch kernel on the GPU, an error naming anneal.device without one;
    auto: cuda when torch sees a GPU, else numba. kernel="torch" runs the twin on the CPU."""
    import torch
    from latentspin.core.config import ConfigError

    for has_cuda in (False, True):
        monkeypatch.setattr(torch.cuda, "is_available", lambda: has_cuda)
        assert mc.select_kernel("cpu") == ("numba", "cpu")
        assert mc.select_kernel("auto") == (("torch", "cuda") if has_cuda else ("numba", "cpu"))
        assert mc.select_kernel("cpu", kernel="torch") == ("torch", "cpu")
        assert mc.select_kernel("auto", kernel="numba") == ("numba", "cpu")
        if has_cuda:
            assert mc.select_kernel("cuda") == ("torch", "cuda")
        else:
            with pytest.raises(ConfigError, match="anneal.device is 'cuda'"):
                mc.select_kernel("cuda")
    with pytest.raises(ConfigError, match="anneal.device must be one of"):
        mc.select_kernel("gpu")
    with pytest.raises(ValueError, match="kernel must be one of"):
        mc.select_kernel("cpu", kernel="jax")
    with pytest.raises(ValueError, match="numba' runs on the CPU only"):
        mc.select_kernel("cuda", kernel="numba")
    assert "numba kernel" in mc.kernel_description("numba", "cpu")
    assert "torch kernel, float64 on cuda" in mc.kernel_description("torch", "cuda")


def _polarized(n, L):
    up = np.zeros((n, 3, L, L), np.float32)
    up[:, 2] = 1.0
    return up


def test_a_thermal_kick_tells_the_saddle_from_the_minimum():
    """At zero field the polarized state is a stationary point that DMI makes a saddle: a spiral
    of small q lowers ε, ε(q) - ε(0) ≈ Jq² - |D|q < 0. Zero-temperature sweeps never leave it (every
    field is parallel to its spin); a kick (heat bath at T = 0.05, then a quench) lets the unstable
    modes grow, and it ends a spiral. In a field B the same state is a true minimum once B exceeds
    every spiral's gain, -2J - min_q ε(q) (the spin waves about it cost B - (ε(0) - ε(q)) > 0 per unit
    amplitude²): the kick returns it exactly. The ground-state spiral is unchanged by both."""
    L, n = 32, 4
    ham = Hamiltonian(1.0, 0.3, "bloch")
    keys = sample_keys(2, "kick", range(n))
    up = _polarized(n, L)
    np.testing.assert_array_equal(mc.relax(up, ham, 200), up)
    kicked = mc.kick(up, ham, 0.05, 1000, 200, keys)
    _, _, e_spiral = hamiltonian.lattice_ground_state(L, ham)
    assert (np.abs(kicked[:, 2].mean(axis=(-2, -1))) < 0.05).all()  # Mz 1 -> 0
    assert (energy(kicked, ham) < -2.0 + 0.9 * (e_spiral + 2.0)).all()  # most of the way down to the spiral

    gain = -2 * ham.J - e_spiral  # the largest energy per spin a spiral gains over the polarized state
    field = Hamiltonian(1.0, 0.3, "bloch", B=0.1)
    assert field.B > gain > 0.04
    kicked = mc.kick(up, field, 0.05, 1000, 200, keys)
    assert (kicked[:, 2] > 0.999999).all()
    np.testing.assert_allclose(energy(kicked, field), -2 * field.J - field.B, atol=1e-9)

    n_q, m_q, _ = hamiltonian.lattice_ground_state(L, ham)
    spiral = np.repeat(textures.spiral(L, n_q, m_q, ham).numpy()[None], n, axis=0).astype(np.float32)
    np.testing.assert_allclose(energy(mc.relax(spiral, ham, 200), ham), e_spiral, atol=1e-6)
    # the kick's fluctuations leave by slow long-wavelength relaxation: a long quench brings ε back
    np.testing.assert_allclose(energy(mc.kick(spiral, ham, 0.05, 1000, 3000, keys), ham), e_spiral, atol=1e-6)


def test_a_kick_depends_on_its_keys_only_and_refuses_bad_settings():
    L = 16
    ham = Hamiltonian()
    s = random_spins(3, L, seed=8).astype(np.float32)
    keys = sample_keys(4, "kick", range(3))
    a = mc.kick(s, ham, 0.1, 20, 5, keys, threads=2)
    np.testing.assert_array_equal(mc.kick(s[1:], ham, 0.1, 20, 5, keys[1:], threads=1), a[1:])
    assert a.dtype == np.float32 and not np.array_equal(a, s)
    for bad in (dict(temperature=0.0), dict(sweeps=0), dict(quench_sweeps=-1)):
        args = dict(temperature=0.1, sweeps=20, quench_sweeps=5) | bad
        with pytest.raises(ValueError, match="thermal kick"):
            mc.kick(s, ham, keys=keys, **args)
    with pytest.raises(ValueError, match="one key per state"):
        mc.kick(s, ham, 0.1, 20, 5, keys[:2])
