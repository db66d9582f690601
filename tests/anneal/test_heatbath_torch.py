"""The torch annealing kernel (the GPU path) as the numba kernel's twin: the same random numbers
bit for bit, the same sweep to rounding, the same physics; run here on CPU tensors."""

import math

import numpy as np
import pytest
import torch
from latentspin.anneal import driver as mc
from latentspin.anneal import heatbath_numba
from latentspin.anneal import heatbath_torch as tk
from latentspin.anneal.schedule import Schedule
from latentspin.core.seeds import sample_keys
from latentspin.physics import hamiltonian, observables, textures
from latentspin.physics.hamiltonian import Hamiltonian
from scipy import stats

HAM = Hamiltonian(1.0, 0.3, "bloch")
HAMS = [HAM, Hamiltonian(1.0, 0.3, "neel"), Hamiltonian(0.7, -0.45, "bloch"), Hamiltonian(1.0, 0.3, "bloch", B=0.4),
        Hamiltonian(0.7, 0.45, "neel", B=1.7)]
U64 = (1 << 64) - 1


def random_spins(n, L, seed=0):
    s = np.random.default_rng(seed).normal(size=(n, 3, L, L))
    return s / np.linalg.norm(s, axis=1, keepdims=True)


def numba_anneal(keys, L, ham, betas, n_quench=0):
    """The numba kernel's anneal in float64 (montecarlo.anneal rounds to float32)."""
    out = np.empty((len(keys), 3, L, L))
    heatbath_numba.anneal_batch(out, keys, np.asarray(betas, dtype=np.float64), n_quench, *heatbath_numba.couplings(ham))
    return out


def energy(spins, ham=HAM):
    return observables.energy_density(torch.as_tensor(np.asarray(spins, dtype=np.float64)), ham).numpy()


# --- random numbers ---------------------------------------------------------------------------


def test_counter_rng_is_the_numba_kernels_bit_for_bit():
    """hash64 and uniform_pair on int64 tensors equal heatbath_numba.hash64 and heatbath_numba.uniform_pair
    (uint64) exactly, for keys and counters with the top bit set, at 0 and at 2**64 - 1."""
    rng = np.random.default_rng(0)
    edge = [0, 1, 2**31, 2**32 - 1, 2**63 - 1, 2**63, 2**64 - 2, U64]
    keys = edge + [int(k) for k in rng.integers(0, 2**64, size=32, dtype=np.uint64)]
    counters = sorted(set(edge + [int(c) for c in rng.integers(0, 2**64, size=8, dtype=np.uint64)] + list(range(16))))
    pairs = [(keys[i], keys[(5 * i + 3) % len(keys)], c) for i in range(len(keys)) for c in counters]
    k1, k2, ctr = (torch.tensor([tk.as_int64(p[j]) for p in pairs]) for j in range(3))
    bits = tk.hash64(k1, k2, ctr).numpy().view(np.uint64)
    u1, u2 = tk.uniform_pair(k1, k2, ctr)
    for i, (a, b, c) in enumerate(pairs):
        a, b, c = np.uint64(a), np.uint64(b), np.uint64(c)
        assert bits[i] == heatbath_numba.hash64(a, b, c), (a, b, c)
        assert (u1[i].item(), u2[i].item()) == heatbath_numba.uniform_pair(a, b, c), (a, b, c)
    assert len(pairs) > 1000 and 0.45 < u1.mean() < 0.55 and len(set(bits.tolist())) == len(pairs)


def test_float32_uniforms_are_the_float64_ones_rounded():
    k = torch.tensor([tk.as_int64(0x8000_0000_DEAD_BEEF)])
    counter = torch.arange(4096)
    u64, u32 = tk.uniform_pair(k, k, counter), tk.uniform_pair(k, k, counter, torch.float32)
    for a, b in zip(u64, u32):
        assert torch.equal(a.to(torch.float32), b)
        assert ((b >= 0) & (b <= 1)).all()


def test_keys_are_taken_as_uint64_bits():
    keys = sample_keys(1, "train", range(3))
    t = tk.key_tensor(keys)
    assert t.dtype == torch.int64 and np.array_equal(t.numpy().view(np.uint64), keys)
    assert torch.equal(tk.key_tensor(t), t)
    with pytest.raises(TypeError, match="uint64"):
        tk.key_tensor(keys.astype(np.float64))
    with pytest.raises(ValueError, match=r"\(B, 2\)"):
        tk.key_tensor(keys[:, :1])


# --- the twin of the numba kernel ----------------------------------------------------------------


@pytest.mark.parametrize("L", [6, 16])
def test_random_initial_state_is_the_numba_kernels(L):
    """Sweep 0: cos θ = 1 - 2 u1 is exact, so S_z is bitwise numba's; S_x, S_y agree to 1e-15."""
    keys = sample_keys(5, "train", range(3))
    ours = tk.random_state(keys, L).numpy()
    theirs = numba_anneal(keys, L, HAM, [])
    np.testing.assert_array_equal(ours[:, 2], theirs[:, 2])
    assert np.abs(ours - theirs).max() < 1e-12  # measured: 7e-16
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-15)


@pytest.mark.parametrize("ham", HAMS, ids=lambda h: f"{h.dmi}-D{h.D}-B{h.B}")
@pytest.mark.parametrize("T", [5.0, 0.7, 0.02, 0.0])
def test_one_sweep_is_the_numba_kernels(ham, T):
    """From the same state with the same keys and sweep number, one sweep (colour 0 then 1; a
    quench at T = 0) agrees with heatbath_numba.sweep_batch to rounding; the last state is all zero
    vectors, where every field of colour 0 vanishes without a field (uniform draws; the quench keeps
    them) and is B ẑ with one (the quench turns all of them to +z)."""
    L = 12
    s = random_spins(3, L, seed=1)
    s[2] = 0.0
    keys = sample_keys(11, "train", range(3))
    beta = math.inf if T == 0 else 1.0 / T
    ours = tk.sweep_batch(torch.from_numpy(s), keys, beta, 7, ham).numpy()
    theirs = s.copy()
    heatbath_numba.sweep_batch(theirs, keys, beta, 7, *heatbath_numba.couplings(ham))
    assert np.abs(ours - theirs).max() < 1e-12  # measured: below 1e-14
    assert not np.allclose(theirs[:2], s[:2], atol=1e-3)  # the sweep did move the spins
    if T > 0:
        np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-14)
    elif ham.B == 0:
        np.testing.assert_array_equal(ours[2], 0.0)
    else:
        np.testing.assert_array_equal(ours[2], np.broadcast_to(np.array([0.0, 0.0, 1.0])[:, None, None], (3, L, L)))


def test_a_sweep_updates_colour_0_then_colour_1():
    """Against the NumPy reference's masks: one heat-bath half sweep would leave colour 1 alone,
    and the quench of a single sweep only changes sites whose field moved."""
    L = 8
    y, x = np.indices((L, L))
    even = (x + y) % 2 == 0
    geo = tk._geometry(L, "cpu")
    np.testing.assert_array_equal(np.sort(geo.sites[0].numpy()), np.flatnonzero(even))
    np.testing.assert_array_equal(np.sort(geo.sites[1].numpy()), np.flatnonzero(~even))
    s = torch.from_numpy(random_spins(2, L, seed=2))
    cb = tk.to_checkerboard(s, geo)
    k = tk.key_tensor(sample_keys(0, "x", range(2)))
    beta = torch.tensor(2.0, dtype=s.dtype)
    new0 = tk._heatbath_colour(cb[1], k[:, 0] + geo.sweep_offset(1), k[:, 1], beta, 0, geo, HAM)
    moved = tk.from_checkerboard([new0, cb[1]], geo)
    assert torch.equal(moved[..., ~torch.from_numpy(even)], s[..., ~torch.from_numpy(even)])
    assert not torch.allclose(moved[..., torch.from_numpy(even)], s[..., torch.from_numpy(even)])
    assert torch.equal(tk.from_checkerboard(cb, geo), s)  # the layout round trip is exact


def test_heat_bath_sweep_zero_is_refused_by_both_kernels_and_a_quench_needs_no_number():
    """Counter 0 is the initial state's random stream: a heat-bath sweep numbered 0 would redraw
    it, so both kernels refuse it (and an anneal starting there). A quench draws nothing, so its
    number is irrelevant: numbered 0 or 7, it gives the same spins."""
    keys = sample_keys(0, "x", range(2))
    s = random_spins(2, 8, seed=4)
    with pytest.raises(ValueError, match="must be >= 1.*got 0"):
        mc.sweep(s.copy(), keys, 0.5, 0, HAM)
    with pytest.raises(ValueError, match="must be >= 1.*got -3"):
        tk.sweep_batch(torch.from_numpy(s), keys, 2.0, -3, HAM)
    with pytest.raises(ValueError, match="must be >= 1.*got 0"):
        tk.anneal_batch(keys, 8, HAM, [2.0], 0, first_sweep=0)
    a, b = s.copy(), s.copy()
    mc.sweep(a, keys, 0.0, 0, HAM)
    mc.sweep(b, keys, 0.0, 7, HAM)
    np.testing.assert_array_equal(a, b)
    q0 = tk.sweep_batch(torch.from_numpy(s), keys, math.inf, 0, HAM)
    assert torch.equal(q0, tk.sweep_batch(torch.from_numpy(s), keys, math.inf, 7, HAM))
    np.testing.assert_allclose(q0.numpy(), a, atol=1e-13)


def test_compiled_half_sweeps_are_whole_graphs_that_serve_every_temperature():
    """torch.compile traces each half sweep whole (fullgraph): one graph per colour for the heat
    bath and one for the quench, reused at every temperature and sweep number, and the same
    spins as eager. The aot_eager backend traces without generating code, so this is cheap; the
    inductor backend's arithmetic is checked against numba on the GPU (tests/test_cuda.py)."""
    from torch._dynamo.utils import counters

    keys = sample_keys(0, "compiled", range(3))
    betas = [0.5, 0.7, 1.0, 2.0, 4.0]
    torch._dynamo.reset()
    counters.clear()
    compiled = tk.anneal_batch(keys, 8, HAM, betas, 2, compile="aot_eager")
    assert counters["stats"]["unique_graphs"] == 4
    assert torch.equal(compiled, tk.anneal_batch(keys, 8, HAM, betas, 2))
    s = torch.from_numpy(random_spins(3, 8, seed=5))
    eager = tk.sweep_batch(s, keys, 1.3, 9, HAM)
    assert torch.equal(tk.sweep_batch(s, keys, 1.3, 9, HAM, compile="aot_eager"), eager)
    assert counters["stats"]["unique_graphs"] == 4  # a new temperature and sweep number: no new graph
    assert tk.compile_backend(True) == "inductor" and tk.compile_backend(False) is None
    with pytest.raises(ValueError, match="compile must be .*inductor.*got 'fast'"):
        tk.anneal_batch(keys, 8, HAM, betas, 2, compile="fast")


def test_short_anneal_follows_the_numba_kernel_then_parts_ways():
    """Whole anneals from the random start, L = 16, T from 3 down: after 1, 3 and 10 sweeps the
    torch and numba states of each key agree to 1e-10 (measured: 2e-15, 2e-14, 2e-13). The
    ulp-level differences of exp, log1p and sin/cos then grow through the chaotic dynamics:
    measured at L = 32 over 300 sweeps, 1e-10 after 50 sweeps, 1e-6 after 100, 2e-3 after 150
    and O(1) (different configurations) from 200 on, i.e. once the anneal crosses T ~ 1. That
    is not asserted; only that both kernels end in quenched low-energy states."""
    L, keys = 16, sample_keys(3, "train", range(3))
    betas = 1.0 / Schedule(T_start=3.0, T_end=0.01, sweeps=60, quench_sweeps=10).temperatures()
    for n in (1, 3, 10):
        ours = tk.anneal_batch(keys, L, HAM, betas[:n], 0).numpy()
        assert np.abs(ours - numba_anneal(keys, L, HAM, betas[:n])).max() < 1e-10, n
    _, _, e0 = hamiltonian.lattice_ground_state(L, HAM)
    for s in (tk.anneal_batch(keys, L, HAM, betas, 10).numpy(), numba_anneal(keys, L, HAM, betas, 10)):
        np.testing.assert_allclose(np.linalg.norm(s, axis=1), 1.0, atol=1e-14)
        assert (energy(s) - e0 < 0.1 * abs(e0)).all()


def test_float32_sweep_tracks_float64():
    s = torch.from_numpy(random_spins(2, 16, seed=3))
    keys = sample_keys(1, "f32", range(2))
    a = tk.sweep_batch(s, keys, 1.5, 1, HAM)
    b = tk.sweep_batch(s.float(), keys, 1.5, 1, HAM)
    assert b.dtype == torch.float32 and (b.double() - a).abs().max() < 1e-4
    c = tk.anneal_batch(keys, 16, HAM, [1.0] * 5, 2, dtype=torch.float32)
    torch.testing.assert_close(c.norm(dim=1), torch.ones(2, 16, 16), atol=1e-5, rtol=0)


def test_sample_depends_only_on_its_key():
    """Bitwise the same sample alone, in a batch, in another order, and on rerun; another key
    gives another sample (the numba kernel's guarantee, test_montecarlo)."""
    keys = sample_keys(7, "train", range(5))
    betas = 1.0 / Schedule(sweeps=20, quench_sweeps=5).temperatures()
    full = tk.anneal_batch(keys, 16, HAM, betas, 5)
    assert torch.equal(tk.anneal_batch(keys, 16, HAM, betas, 5), full)
    for i in range(5):
        assert torch.equal(tk.anneal_batch(keys[i : i + 1], 16, HAM, betas, 5)[0], full[i])
    assert torch.equal(tk.anneal_batch(keys[::-1].copy(), 16, HAM, betas, 5), full.flip(0))
    assert not torch.equal(full[0], full[1])
    # 2001 lattices of 6 x 6: 36018 sites per half sweep, which torch's threads split in the
    # middle of a sample and off the SIMD width (18 sites per sample and colour)
    keys = sample_keys(8, "train", range(2001))
    full = tk.anneal_batch(keys, 6, HAM, betas[:5], 2)
    for i in (0, 999, 1000, 1001, 2000):
        assert torch.equal(tk.anneal_batch(keys[i : i + 1], 6, HAM, betas[:5], 2)[0], full[i]), i


def test_montecarlo_anneal_runs_the_torch_kernel_when_asked():
    """mc.anneal(kernel="torch") is torch_kernel.anneal_batch rounded to float32, whatever its
    batch size; float32 compute is an option; bad options are named."""
    keys = sample_keys(2, "train", range(5))
    schedule = Schedule(sweeps=15, quench_sweeps=3)
    direct = tk.anneal_batch(keys, 16, HAM, 1.0 / schedule.temperatures(), 3).numpy().astype(np.float32)
    done = []
    via = mc.anneal(keys, 16, HAM, schedule, device="cpu", kernel="torch", batch_size=2, progress=done.append)
    np.testing.assert_array_equal(via, direct)
    assert via.dtype == np.float32 and done == [2, 2, 1]
    np.testing.assert_array_equal(mc.anneal(keys, 16, HAM, schedule, kernel="torch"), direct)
    f32 = mc.anneal(keys[:1], 16, HAM, schedule, kernel="torch", dtype="float32")
    np.testing.assert_allclose(np.linalg.norm(f32, axis=1), 1.0, atol=1e-5)
    with pytest.raises(ValueError, match="float16"):
        mc.anneal(keys, 16, HAM, schedule, kernel="torch", dtype="float16")
    with pytest.raises(ValueError, match="lattice.L"):
        tk.anneal_batch(keys, 15, HAM, [1.0], 0)
    with pytest.raises(ValueError, match="beta"):
        tk.sweep_batch(torch.zeros(1, 3, 8, 8, dtype=torch.float64), keys[:1], -1.0, 1, HAM)


def test_compiled_anneal_pads_a_short_last_batch_instead_of_compiling_its_shape():
    """Compiled half sweeps are shape-static. 7 samples at batch size 3 run as batches of 3, 3 and
    1, the last padded to 3 with copies of its last key: one shape, so the 4 graphs of one batch
    shape, and the samples of an unpadded eager run. Batches are balanced: 9 at 4 are 3 × 3."""
    from torch._dynamo.utils import counters

    keys = sample_keys(4, "pad", range(7))
    schedule = Schedule(sweeps=4, quench_sweeps=1)
    torch._dynamo.reset()
    counters.clear()
    done = []
    compiled = mc.anneal(keys, 8, HAM, schedule, kernel="torch", batch_size=3, compile="aot_eager",
                         progress=done.append)
    assert counters["stats"]["unique_graphs"] == 4
    assert done == [3, 3, 1]
    np.testing.assert_array_equal(compiled, mc.anneal(keys, 8, HAM, schedule, kernel="torch", batch_size=7))
    done.clear()
    mc.anneal(sample_keys(4, "pad", range(9)), 8, HAM, schedule, kernel="torch", batch_size=4,
              progress=done.append)
    assert done == [3, 3, 3]


# --- physics -------------------------------------------------------------------------------


def langevin(a):
    return 1 / math.tanh(a) - 1 / a


@pytest.mark.parametrize("a", [0.01, 1.0, 50.0])
@pytest.mark.parametrize("direction", [(0.3, -0.5, 0.81), (0.0, 0.0, 1.0), (0.0, 0.0, -1.0), (-0.2, 0.1, -0.97)])
def test_draws_follow_boltzmann_about_the_field(a, direction):
    """With the counter-based uniforms: cos θ about h passes a KS test against exp(a cos θ), its
    mean is the Langevin function, the azimuth about h is uniform (also through the h_z < 0
    mirror), and the spins are unit vectors."""
    n = 40_000
    n_hat = np.array(direction) / np.linalg.norm(direction)
    h = [torch.full((n,), 2.0 * c, dtype=torch.float64) for c in n_hat]
    key = torch.tensor([[tk.as_int64(int(a * 1000) + 17)]])
    u1, u2 = tk.uniform_pair(key, key ^ 0x5555, torch.arange(n))
    s = torch.stack(tk.draw_spins(*h, a / 2.0, u1[0], u2[0]), dim=1).numpy()
    np.testing.assert_allclose(np.linalg.norm(s, axis=1), 1.0, atol=1e-14)
    c = s @ n_hat
    cdf = lambda x: (np.exp(a * (x - 1)) - np.exp(-2 * a)) / (1 - np.exp(-2 * a))  # noqa: E731
    assert stats.kstest(c, cdf).pvalue > 1e-3
    var = 1 - 2 * langevin(a) / a - langevin(a) ** 2
    assert abs(c.mean() - langevin(a)) < 5 * math.sqrt(var / n)
    e1 = np.cross(n_hat, [1.0, 0, 0] if abs(n_hat[0]) < 0.9 else [0, 1.0, 0])
    e1 /= np.linalg.norm(e1)
    phi = np.arctan2(s @ np.cross(n_hat, e1), s @ e1)
    if a < 50:  # at a = 50 the spins sit on the field and the azimuth is resolution-limited
        assert stats.kstest(phi, stats.uniform(-np.pi, 2 * np.pi).cdf).pvalue > 1e-3


def test_fixed_temperature_statistics_match_the_numba_kernel():
    """256 independent chains of each kernel (different keys), L = 16, 40 sweeps at T = 1 from the
    random start: the energy density and Mz of the two samples pass Welch's t-test and the
    two-sample KS test; the same test tells numba's chains at T = 1.05 apart (measured p ~ 1e-21)."""
    L, n = 16, 256
    ours = tk.anneal_batch(sample_keys(1, "fixedT", range(n)), L, HAM, np.full(40, 1.0), 0)
    theirs, warmer = (torch.from_numpy(numba_anneal(sample_keys(2, "fixedT", range(n)), L, HAM, np.full(40, b)))
                      for b in (1.0, 1 / 1.05))
    for q in (lambda x: observables.energy_density(x, HAM), observables.magnetization_z):
        a, b = q(ours).numpy(), q(theirs).numpy()
        assert stats.ttest_ind(a, b, equal_var=False).pvalue > 1e-3, (a.mean(), b.mean())
        assert stats.ks_2samp(a, b).pvalue > 1e-3
    a, b = (observables.energy_density(x, HAM).numpy() for x in (ours, warmer))
    assert stats.ttest_ind(a, b, equal_var=False).pvalue < 1e-6


def test_high_temperature_energy_matches_series():
    """Detailed balance at high T: <ε> = -2β(3J² + 2D²)/9 + O(β³), as for the numba kernel."""
    beta, L, n = 0.05, 32, 16
    keys = sample_keys(1, "hiT", range(n))
    s = tk.random_state(keys, L)
    trace = []
    for t in range(1, 401):
        s = tk.sweep_batch(s, keys, beta, t, HAM)
        if t > 20:
            trace.append(energy(s))
    trace = np.array(trace)
    expected = -2 * beta * (3 * HAM.J**2 + 2 * HAM.D**2) / 9
    stderr = trace.std() / np.sqrt(trace.size)
    assert abs(trace.mean() - expected) < 5 * stderr + 1e-3 * abs(expected)
    assert 5 * stderr < 0.05 * abs(expected)


def test_low_temperature_equipartition():
    """About the spiral ground state each spin has two harmonic modes: <ε> - ε_0 = T."""
    L, T, n = 32, 1e-3, 8
    n_q, m_q, e0 = hamiltonian.lattice_ground_state(L, HAM)
    s = textures.spiral(L, n_q, m_q, HAM)[None].repeat(n, 1, 1, 1)
    keys = sample_keys(2, "lowT", range(n))
    trace = []
    for t in range(1, 201):
        s = tk.sweep_batch(s, keys, 1 / T, t, HAM)
        if t > 60:
            trace.append(energy(s).mean())
    assert (np.mean(trace) - e0) / T == pytest.approx(1.0, rel=0.05)


@pytest.mark.parametrize("ham", HAMS[:2], ids=lambda h: h.dmi)
def test_quench_keeps_the_spiral_and_never_raises_the_energy(ham):
    spiral = textures.spiral(32, 2, 1, ham)[None]
    torch.testing.assert_close(tk.quench(spiral, 5, ham), spiral, atol=1e-12, rtol=0)
    s = torch.from_numpy(random_spins(2, 16, seed=5))
    e = [energy(s, ham)]
    for _ in range(20):
        s = tk.quench(s, 1, ham)
        e.append(energy(s, ham))
    assert (np.diff(np.array(e), axis=0) <= 1e-13).all() and e[-1].mean() < e[0].mean() - 0.5
    theirs = random_spins(2, 16, seed=5)
    heatbath_numba.chain_batch(theirs, np.zeros((2, 2), np.uint64), np.empty(0), 1, 20, *heatbath_numba.couplings(ham))
    assert np.abs(s.numpy() - theirs).max() < 1e-12  # no random numbers: numba's to rounding (measured 4e-16)
    assert torch.equal(tk.quench(torch.zeros(1, 3, 8, 8, dtype=torch.float64), 2, ham), torch.zeros(1, 3, 8, 8,
                                                                                                       dtype=torch.float64))
