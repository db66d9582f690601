"""Physical and numerical truths of latentspin.physics and latentspin.textures."""

from __future__ import annotations

import math

import pytest
import torch
from latentspin.physics import hamiltonian
from latentspin.physics import observables as ph
from latentspin.physics.textures import rotate_about_z, skyrmion, spiral

BLOCH = ph.Hamiltonian(J=1.0, D=0.3, dmi="bloch")
NEEL = ph.Hamiltonian(J=1.0, D=0.3, dmi="neel")
BOTH = pytest.mark.parametrize("ham", [BLOCH, NEEL], ids=["bloch", "neel"])
# with a field along +z (the Zeeman term -B Σ S_z)
IN_FIELD = [ph.Hamiltonian(J=1.0, D=0.3, dmi="bloch", B=0.25), ph.Hamiltonian(J=0.7, D=0.45, dmi="neel", B=1.3)]
WITH_FIELD = pytest.mark.parametrize("ham", [BLOCH, NEEL, *IN_FIELD], ids=["bloch", "neel", "bloch-B", "neel-B"])


def random_state(L: int, seed: int, batch: tuple[int, ...] = (), dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    s = torch.randn(*batch, 3, L, L, generator=g, dtype=dtype)
    return s / s.norm(dim=-3, keepdim=True)


def smooth_state(L: int, seed: int, corr_len: float = 4.0):
    """Unit spins from a Gaussian random field low-passed over ~corr_len sites."""
    g = torch.Generator().manual_seed(seed)
    noise = torch.randn(3, L, L, generator=g, dtype=torch.float64)
    k = 2 * math.pi * torch.fft.fftfreq(L, dtype=torch.float64)
    k2 = k[:, None] ** 2 + k[None, :] ** 2
    field = torch.fft.ifft2(torch.fft.fft2(noise) * torch.exp(-0.5 * k2 * corr_len**2)).real
    field = field + torch.tensor([0.0, 0.0, 0.3 * field.std()], dtype=torch.float64).view(3, 1, 1)
    return field / field.norm(dim=0, keepdim=True)


def q_of(L: int, n: int, m: int) -> tuple[float, float]:
    return 2 * math.pi * n / L, 2 * math.pi * m / L


# ------------------------------------------------------------------------------ Hamiltonian


def test_hamiltonian_validation_and_config():
    with pytest.raises(ValueError, match="Bloch"):
        ph.Hamiltonian(dmi="Bloch")
    ham = ph.Hamiltonian.from_config({"J": 2, "D": -0.5, "dmi": "neel", "B": 0.1})
    assert ham == ph.Hamiltonian(J=2.0, D=-0.5, dmi="neel", B=0.1)
    assert ham.dmi_vectors() == ((0.0, -0.5, 0.0), (0.5, 0.0, 0.0))
    assert BLOCH.dmi_vectors() == ((0.3, 0.0, 0.0), (0.0, 0.3, 0.0))
    with pytest.raises(KeyError):  # no key falls back to a default, B included
        ph.Hamiltonian.from_config({"J": 1.0, "D": 0.3, "dmi": "bloch"})
    for bad in (float("nan"), float("inf"), "0.1", None, True):
        with pytest.raises(ValueError, match="hamiltonian.B must be a finite number"):
            ph.Hamiltonian(B=bad)
    # a store records the Hamiltonian; one written before the field existed was made at B = 0
    assert ph.Hamiltonian.from_attrs(ham.as_attrs()) == ham
    assert ph.Hamiltonian.from_attrs({"J": 1.0, "D": 0.3, "dmi": "bloch"}) == BLOCH


def test_no_spiral_ground_state_in_a_field():
    """In a field the spirals are not the ground state: asking for one is an error, not a number."""
    assert hamiltonian.lattice_ground_state(32, BLOCH)[2] < -2.0
    assert BLOCH.spiral_is_ground_state and not IN_FIELD[0].spiral_is_ground_state
    with pytest.raises(ValueError, match="at B = 0.25 the spiral is not the ground state"):
        hamiltonian.lattice_ground_state(32, IN_FIELD[0])


# ------------------------------------------------------------------------------ energies


SPIRAL_CASES = [
    (128, (0, 0)), (128, (6, 0)), (128, (0, 6)), (128, (4, 4)), (128, (5, 3)), (128, (2, 7)),
    (128, (64, 0)), (48, (3, 0)), (48, (0, 5)), (48, (2, 2)), (48, (5, 3)), (48, (2, 7)),
    (48, (24, 9)),
]


@pytest.mark.parametrize("L,nm", SPIRAL_CASES)
@pytest.mark.parametrize("dmi", ["bloch", "neel"])
@pytest.mark.parametrize("D", [0.3, -0.3])
def test_spiral_energy_is_analytic(L, nm, dmi, D):
    ham = ph.Hamiltonian(J=1.0, D=D, dmi=dmi)
    s = spiral(L, *nm, ham)
    assert torch.allclose(s.norm(dim=0), torch.ones(L, L, dtype=s.dtype), atol=1e-14)
    eps = ph.energy_density(s, ham).item()
    assert abs(eps - hamiltonian.spiral_energy_density(*q_of(L, *nm), ham)) < 1e-10


def test_lattice_ground_state_128():
    n, m, eps = hamiltonian.lattice_ground_state(128, BLOCH)
    assert (n, m) == (5, 3)
    assert round(eps, 5) == -2.04436
    eps_axis = hamiltonian.spiral_energy_density(*q_of(128, 6, 0), BLOCH)
    assert round(eps_axis, 5) == -2.04403
    diagonal_continuum = -math.sqrt(4 + 2 * 0.3**2)
    axis_continuum = -1 - math.sqrt(1 + 0.3**2)
    assert round(diagonal_continuum, 5) == -2.04450 and round(axis_continuum, 5) == -2.04403
    assert diagonal_continuum < eps < eps_axis
    assert axis_continuum <= eps_axis
    assert hamiltonian.lattice_ground_state(128, NEEL) == (n, m, eps)


def test_lattice_ground_state_is_global_minimum():
    L = 48
    n, m, eps = hamiltonian.lattice_ground_state(L, BLOCH)
    every = min(hamiltonian.spiral_energy_density(*q_of(L, a, b), BLOCH) for a in range(L) for b in range(L))
    assert n >= m >= 0 and abs(eps - every) < 1e-12


@WITH_FIELD
def test_local_energy_sums_to_total(ham):
    s = random_state(16, seed=1)
    n_sites = 16 * 16
    local = ph.local_energy_density(s, ham)
    assert local.shape == (16, 16)
    assert abs(local.sum().item() - n_sites * ph.energy_density(s, ham).item()) < 1e-10
    # Half of each site's four bonds, -S·h/2 with the couplings' field, and all of its Zeeman energy.
    couplings = ph.Hamiltonian(J=ham.J, D=ham.D, dmi=ham.dmi)
    site = -0.5 * (s * ph.local_field(s, couplings)).sum(dim=0) - ham.B * s[2]
    assert torch.allclose(local, site, atol=1e-13)


@WITH_FIELD
def test_ferromagnet_energy(ham):
    """The uniform state along ±z: ε = -2J ∓ B exactly; tilted: -2J - B cos θ."""
    up = torch.zeros(3, 8, 8, dtype=torch.float64)
    up[2] = 1.0
    assert ph.energy_density(up, ham).item() == -2.0 * ham.J - ham.B
    assert ph.energy_density(-up, ham).item() == -2.0 * ham.J + ham.B
    assert torch.equal(ph.local_energy_density(up, ham), torch.full((8, 8), -2.0 * ham.J - ham.B, dtype=torch.float64))
    tilted = torch.tensor([0.3, -0.5, 0.6], dtype=torch.float64)
    tilted = (tilted / tilted.norm()).view(3, 1, 1).expand(3, 8, 8)
    expected = -1.4 - ham.B * tilted[2, 0, 0].item()
    assert abs(ph.energy_density(tilted, ph.Hamiltonian(J=0.7, D=0.4, dmi=ham.dmi, B=ham.B)) - expected) < 1e-14


@pytest.mark.parametrize("ham", IN_FIELD, ids=["bloch", "neel"])
def test_the_field_adds_minus_b_mz(ham):
    """ε_B(S) = ε_0(S) - B Mz(S) for any state; a commensurate spiral (Mz = 0) keeps its ε(q)."""
    zero = ph.Hamiltonian(J=ham.J, D=ham.D, dmi=ham.dmi)
    for s in (random_state(16, seed=9, batch=(3,)), smooth_state(32, seed=4), skyrmion(32, 6.0, zero)):
        assert torch.allclose(ph.energy_density(s, ham), ph.energy_density(s, zero) - ham.B * ph.magnetization_z(s),
                              atol=1e-14)
    for n, m in [(6, 0), (5, 3), (2, 7)]:
        expected = hamiltonian.spiral_energy_density(*q_of(48, n, m), ham)
        assert abs(ph.energy_density(spiral(48, n, m, ham), ham).item() - expected) < 1e-12


@WITH_FIELD
def test_local_field_is_minus_gradient(ham):
    s = random_state(8, seed=2).requires_grad_(True)
    total = ph.energy_density(s, ham) * 64
    (grad,) = torch.autograd.grad(total, s)
    assert torch.allclose(ph.local_field(s.detach(), ham), -grad, atol=1e-12)


@WITH_FIELD
@pytest.mark.parametrize("site", [(0, 0), (3, 7), (7, 7)])
def test_single_spin_change_is_linear(ham, site):
    s = random_state(8, seed=3)
    y, x = site
    h = ph.local_field(s, ham)[:, y, x]
    new = s.clone()
    new[:, y, x] = torch.tensor([0.48, -0.6, 0.64], dtype=torch.float64)
    delta_h = 64 * (ph.energy_density(new, ham) - ph.energy_density(s, ham))
    assert abs(delta_h.item() + torch.dot(h, new[:, y, x] - s[:, y, x]).item()) < 1e-12


# ------------------------------------------------------------------------------ topology


@pytest.mark.parametrize("core", [-1, 1])
@pytest.mark.parametrize("helicity", [0.0, math.pi / 2, math.pi, -math.pi / 2, None])
@pytest.mark.parametrize("center", [None, (10.5, 20.5)])
@BOTH
def test_skyrmion_index(core, helicity, center, ham):
    s = skyrmion(40, radius=5.0, ham=ham, core=core, helicity=helicity, center=center)
    assert abs(ph.topological_index(s).item() - core) < 1e-6  # core -z in +z: W = -1
    assert math.copysign(1, ph.magnetization_z(s).item()) == -core  # background is -core·ẑ


def test_antiskyrmion_index():
    s = skyrmion(40, radius=5.0, core=-1, vorticity=-1)
    assert abs(ph.topological_index(s).item() - 1) < 1e-6


def test_w_matches_continuum_orientation():
    """Core -z, vorticity +1: m ≈ (kx, ky, -1) near the core, so m·(∂x m × ∂y m) = -k² < 0."""
    s = skyrmion(40, radius=6.0, core=-1, helicity=0.0)
    m, dx, dy = s[:, 20, 20], s[:, 20, 21] - s[:, 20, 19], s[:, 21, 20] - s[:, 19, 20]
    assert torch.dot(m, torch.linalg.cross(dx, dy)).item() < 0
    assert ph.topological_index(s).item() < 0


def test_skyrmion_default_helicity_is_dmi_favoured():
    for core in (-1, 1):
        bloch = skyrmion(40, 5.0, BLOCH, core=core)
        neel = skyrmion(40, 5.0, NEEL, core=core)
        # Bloch in-plane part is azimuthal, Néel radial; a +90° turn maps one onto the other.
        y, x = torch.meshgrid(torch.arange(40.0), torch.arange(40.0), indexing="ij")
        rx, ry = (x - 20).double(), (y - 20).double()
        radial_part = bloch[0] * rx + bloch[1] * ry
        azimuthal_part = neel[0] * ry - neel[1] * rx
        assert radial_part.abs().max().item() < 1e-12
        assert azimuthal_part.abs().max().item() < 1e-12
        assert torch.allclose(rotate_about_z(bloch, math.pi / 2), neel, atol=1e-12)
        neel_like = skyrmion(40, 5.0, core=core)  # helicity 0
        assert ph.energy_density(bloch, BLOCH) < ph.energy_density(neel_like, BLOCH)


@pytest.mark.parametrize("nm", [(0, 0), (6, 0), (0, 6), (4, 4), (5, 3), (2, 7), (12, 9)])
@BOTH
def test_spirals_have_no_topology(nm, ham):
    assert abs(ph.topological_index(spiral(128, *nm, ham)).item()) < 1e-10


@pytest.mark.parametrize("seed", range(4))
def test_w_is_integer(seed):
    smooth = ph.topological_index(smooth_state(48, seed, corr_len=3.0)).item()
    rough = ph.topological_index(random_state(16, seed)).item()
    assert abs(smooth - round(smooth)) < 1e-10
    assert abs(rough - round(rough)) < 1e-10


# ------------------------------------------------------------------------------ symmetries


@pytest.mark.parametrize("shift", [(1, 0), (0, 1), (3, -5), (17, 9)])
@pytest.mark.parametrize("kind", ["smooth", "random"])
@BOTH
def test_translation_invariance(shift, kind, ham):
    s = smooth_state(32, seed=5) if kind == "smooth" else random_state(32, seed=5)
    t = torch.roll(s, shifts=shift, dims=(-2, -1))
    for f in (lambda v: ph.energy_density(v, ham), ph.topological_index, ph.magnetization_z,
              lambda v: ph.correlation(v, (2, 1))):
        assert abs(f(s).item() - f(t).item()) < 1e-12
    rolled_map = torch.roll(ph.local_energy_density(s, ham), shifts=shift, dims=(-2, -1))
    assert torch.allclose(ph.local_energy_density(t, ham), rolled_map, atol=1e-13)


@pytest.mark.parametrize("state", ["smooth", "random", "skyrmion"])
@BOTH
def test_time_reversal(state, ham):
    """Exchange and DMI are both bilinear in S and there is no field: S -> -S keeps the energy and
    its local map and every correlation, and negates Mz and W (W is cubic in S)."""
    s = {"smooth": lambda: smooth_state(32, seed=8), "random": lambda: random_state(32, seed=8),
         "skyrmion": lambda: skyrmion(32, 4.0, ham)}[state]()
    r = -s
    assert abs(ph.energy_density(r, ham).item() - ph.energy_density(s, ham).item()) < 1e-13
    assert torch.allclose(ph.local_energy_density(r, ham), ph.local_energy_density(s, ham), atol=1e-13)
    assert abs(ph.correlation(r, (3, -2)).item() - ph.correlation(s, (3, -2)).item()) < 1e-13
    assert abs(ph.magnetization_z(r).item() + ph.magnetization_z(s).item()) < 1e-13
    assert abs(ph.topological_index(r).item() + ph.topological_index(s).item()) < 1e-10
    if state == "skyrmion":
        assert abs(abs(ph.topological_index(s).item()) - 1) < 1e-10


@pytest.mark.parametrize("state", ["smooth", "skyrmion", "spiral"])
def test_bloch_to_neel_by_rotation(state):
    s = {"smooth": lambda: smooth_state(32, seed=6),
         "skyrmion": lambda: skyrmion(32, 4.0, BLOCH),
         "spiral": lambda: spiral(32, 2, 1, BLOCH)}[state]()
    r = rotate_about_z(s, math.pi / 2)
    pairs = [(ph.energy_density(s, BLOCH), ph.energy_density(r, NEEL)),
             (ph.topological_index(s), ph.topological_index(r)),
             (ph.magnetization_z(s), ph.magnetization_z(r)),
             (ph.correlation(s, (1, 0)), ph.correlation(r, (1, 0))),
             (ph.correlation(s, (3, -2)), ph.correlation(r, (3, -2)))]
    for a, b in pairs:
        assert abs(a.item() - b.item()) < 1e-12
    assert torch.allclose(ph.local_energy_density(s, BLOCH), ph.local_energy_density(r, NEEL), atol=1e-13)
    # And the DMI really differs: the Bloch state is not as good under Néel DMI.
    if state != "smooth":
        assert ph.energy_density(s, NEEL) > ph.energy_density(s, BLOCH) + 1e-3


# ------------------------------------------------------------------------------ C, Mz, C_BC


@BOTH
@pytest.mark.parametrize("nm", [(6, 0), (5, 3), (2, 7)])
def test_spiral_correlation_and_mz(ham, nm):
    L = 64
    s = spiral(L, *nm, ham)
    qx, qy = q_of(L, *nm)
    for a in [(1, 0), (0, 1), (3, -2), (7, 5), (-4, 11)]:
        assert abs(ph.correlation(s, a).item() - math.cos(qx * a[0] + qy * a[1])) < 1e-12
    assert abs(ph.magnetization_z(s).item()) < 1e-12


def test_boundary_correlation():
    L = 24
    s = smooth_state(L, seed=7)
    assert abs(ph.boundary_correlation(s, s).item() - 1) < 1e-12
    y, x = torch.meshgrid(torch.arange(L), torch.arange(L), indexing="ij")
    ring = ((torch.hypot(x - L / 2.0, y - L / 2.0) - 8).abs() < 1).double()
    a, b = random_state(L, seed=8) * ring, random_state(L, seed=9)
    lhs = ph.boundary_correlation(s, 2.0 * a - 0.5 * b)
    rhs = 2.0 * ph.boundary_correlation(s, a) - 0.5 * ph.boundary_correlation(s, b)
    assert abs((lhs - rhs).item()) < 1e-12
    assert abs(ph.boundary_correlation(s, a).item() - (a * s).sum().item() / L**2) < 1e-12


# ------------------------------------------------------------------------------ Fourier


@pytest.mark.parametrize("L,nm", [(128, (6, 0)), (128, (0, 6)), (128, (5, 3)), (128, (2, 7)),
                                  (48, (3, 3)), (48, (1, 4))])
def test_dominant_wavelength_of_spiral(L, nm):
    wavelength = ph.dominant_wavelength(spiral(L, *nm, BLOCH)).item()
    k = math.hypot(*nm)
    assert abs(L / wavelength - k) <= 1.0  # within one shell of width 2π/L
    assert abs(wavelength - L / k) < 1e-9  # and in fact exact for a pure spiral


def test_dominant_wavelength_batched_and_noisy():
    L = 64
    cases = [(3, 0), (2, 2), (1, 5)]
    batch = torch.stack([spiral(L, n, m, BLOCH) for n, m in cases])
    noisy = batch + 0.3 * random_state(L, seed=10, batch=(3,))
    noisy = noisy / noisy.norm(dim=-3, keepdim=True)
    expected = torch.tensor([L / math.hypot(n, m) for n, m in cases], dtype=torch.float64)
    for b in (batch, noisy):
        got = ph.dominant_wavelength(b)
        assert got.shape == (3,)
        assert torch.all((L / got - L / expected).abs() <= 1.0)


def test_structure_factor_sum_rule():
    s = random_state(16, seed=11, batch=(2,))
    sk = ph.structure_factor(s)
    assert sk.shape == (2, 16, 16)
    # Parseval: Σ_k S(k) = Σ_r |S(r)|² = N for unit spins.
    assert torch.allclose(sk.sum(dim=(-2, -1)), torch.full((2,), 256.0, dtype=torch.float64))


# ------------------------------------------------------------------------------ batching, dtype, autograd


def all_quantities(s, ham, s_bc):
    return {
        "energy": ph.energy_density(s, ham),
        "local": ph.local_energy_density(s, ham),
        "field": ph.local_field(s, ham),
        "W": ph.topological_index(s),
        "Mz": ph.magnetization_z(s),
        "C": ph.correlation(s, (2, -1)),
        "C_BC": ph.boundary_correlation(s, s_bc),
        "S_k": ph.structure_factor(s),
        "lambda": ph.dominant_wavelength(s),
        "bond_x": ph.bond_energies(s, ham)[0],
    }


@BOTH
def test_batched_equals_one_by_one(ham):
    L = 12
    batch = random_state(L, seed=12, batch=(2, 3))
    s_bc = random_state(L, seed=13)
    together = all_quantities(batch, ham, s_bc)
    for i in range(2):
        for j in range(3):
            alone = all_quantities(batch[i, j], ham, s_bc)
            for name, value in alone.items():
                assert together[name].shape[:2] == (2, 3), name
                assert torch.allclose(together[name][i, j], value, atol=1e-12, rtol=0), name


@BOTH
def test_float32_in_float32_out(ham):
    s64 = smooth_state(16, seed=14)
    s32 = s64.float()
    bc = random_state(16, seed=15)
    q32, q64 = all_quantities(s32, ham, bc.float()), all_quantities(s64, ham, bc)
    for name in q32:
        assert q32[name].dtype == torch.float32, name
        assert torch.allclose(q32[name].double(), q64[name], atol=1e-4, rtol=1e-5), name


def test_gradcheck():
    L = 6
    base = spiral(L, 1, 0, BLOCH) + 0.2 * random_state(L, seed=16)
    base = (base / base.norm(dim=0, keepdim=True)).requires_grad_(True)
    for ham in (BLOCH, NEEL):
        assert torch.autograd.gradcheck(lambda v: ph.energy_density(v, ham), (base,))
        assert torch.autograd.gradcheck(lambda v: ph.local_energy_density(v, ham), (base,))
    assert torch.autograd.gradcheck(ph.topological_index, (base,))
    assert torch.autograd.gradcheck(lambda v: ph.correlation(v, (1, 2)), (base,))
    assert torch.autograd.gradcheck(ph.magnetization_z, (base,))


def test_topological_index_depends_on_direction_only():
    s = skyrmion(24, 3.0, BLOCH)
    scale = 0.5 + torch.rand(1, 24, 24, generator=torch.Generator().manual_seed(17), dtype=torch.float64)
    assert abs(ph.topological_index(s * scale).item() - ph.topological_index(s).item()) < 1e-12


# ------------------------------------------------------------------------------ CUDA


def test_cuda_matches_cpu():
    if not torch.cuda.is_available():
        pytest.skip("CUDA is not available")
    s = random_state(16, seed=18, batch=(2,))
    bc = random_state(16, seed=19)
    for ham in (BLOCH, NEEL):
        cpu = all_quantities(s, ham, bc)
        gpu = all_quantities(s.cuda(), ham, bc.cuda())
        for name in cpu:
            assert gpu[name].device.type == "cuda", name
            assert torch.allclose(gpu[name].cpu(), cpu[name], atol=1e-10), name


@pytest.mark.parametrize("p", [1, 2, 5])
def test_periodic_pad_wraps_like_a_torus(p):
    """Equal to torch's circular padding; each padded site holds the site p away across the edge."""
    x = torch.arange(2 * 5 * 6, dtype=torch.float64).view(2, 5, 6)
    padded = ph.periodic_pad(x, p)
    torch.testing.assert_close(padded, torch.nn.functional.pad(x[:, None], (p, p, p, p), mode="circular")[:, 0])
    assert padded[0, 0, 0] == x[0, -p, -p]
    with pytest.raises(ValueError, match="periodic padding of 6 sites"):
        ph.periodic_pad(x, 6)
    # a channels-last feature map (the VAE's layout) comes back channels-last, with the same values
    maps = torch.randn(2, 4, 5, 6).contiguous(memory_format=torch.channels_last)
    padded = ph.periodic_pad(maps, p)
    assert padded.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(padded, torch.nn.functional.pad(maps, (p, p, p, p), mode="circular"), rtol=0, atol=0)


@pytest.mark.parametrize("p", [1, 2, 5])
def test_periodic_pad_gradient_adds_each_padded_site_to_the_site_it_copies(p):
    """The hand-written backward is the adjoint of the wrap: torch's circular padding's gradient,
    the numerical one (gradcheck), and a padded map of ones gives each site 1 plus the number of
    padded copies of it (corners of the torus counted in both directions); channels-last stays."""
    x = torch.randn(2, 3, 5, 6, dtype=torch.float64, requires_grad=True)
    g = torch.randn(2, 3, 5 + 2 * p, 6 + 2 * p, dtype=torch.float64)
    padded = ph.periodic_pad(x, p)
    assert type(padded.grad_fn).__name__ == "_PeriodicPadBackward"  # the fast backward, not autograd's
    ours, = torch.autograd.grad(padded, x, g)
    theirs, = torch.autograd.grad(torch.nn.functional.pad(x, (p, p, p, p), mode="circular"), x, g)
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-12)
    assert torch.autograd.gradcheck(lambda x: ph.periodic_pad(x, p), x)
    ones, = torch.autograd.grad(ph.periodic_pad(x, p).sum(), x)
    copies_y = 1 + sum((torch.arange(5) - k) % 5 == 0 for k in list(range(-p, 0)) + list(range(5, 5 + p)))
    copies_x = 1 + sum((torch.arange(6) - k) % 6 == 0 for k in list(range(-p, 0)) + list(range(6, 6 + p)))
    torch.testing.assert_close(ones, (copies_y[:, None] * copies_x[None, :]).double().expand_as(x))
    x_cl = x.detach().contiguous(memory_format=torch.channels_last).requires_grad_(True)
    g_cl, = torch.autograd.grad(ph.periodic_pad(x_cl, p), x_cl, g.contiguous(memory_format=torch.channels_last))
    assert g_cl.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(g_cl, theirs, rtol=0, atol=1e-12)


def test_unit_vectors_and_lengths():
    """Unit length along the component axis, directions kept, a zero vector stays zero (as in
    torch.nn.functional.normalize), and the lengths are the Euclidean ones: (3, 4, 0) has length 5."""
    v = torch.randn(4, 3, 5, 5, dtype=torch.float64, requires_grad=True)
    u = ph.unit_vectors(v)
    torch.testing.assert_close(u, torch.nn.functional.normalize(v, dim=-3))
    torch.testing.assert_close(ph.vector_lengths(u), torch.ones(4, 5, 5, dtype=torch.float64))
    g, = torch.autograd.grad(u[:, 0].sum(), v)
    g_ref, = torch.autograd.grad(torch.nn.functional.normalize(v, dim=-3)[:, 0].sum(), v)
    torch.testing.assert_close(g, g_ref)
    assert ph.unit_vectors(torch.zeros(3, 2, 2)).eq(0).all()
    assert ph.vector_lengths(torch.tensor([3.0, 4.0, 0.0]).view(3, 1, 1)).item() == 5.0


def test_unit_vectors_of_half_precision_input_are_unit_in_float32():
    """A bfloat16 decoder output (mixed-precision training) still gives spins of unit length to
    float32 precision, as F.normalize under autocast does; squares in bfloat16 miss by up to ~7e-3."""
    v = torch.randn(8, 3, 16, 16).to(torch.bfloat16)
    u = ph.unit_vectors(v)
    assert u.dtype == torch.float32
    torch.testing.assert_close(ph.vector_lengths(u), torch.ones(8, 16, 16), atol=1e-6, rtol=0)
    torch.testing.assert_close(u, torch.nn.functional.normalize(v.float(), dim=-3))
