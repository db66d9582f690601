"""The heat-bath annealing kernel in torch: the numba kernel's twin, for a batch of lattices on
any device (the GPU path of ``anneal.device: cuda``).

It follows :mod:`latentspin.anneal.heatbath_numba` step for step, so that a sample annealed here and by numba
starts from the same spins and draws the same random numbers at every update:

* Random numbers are counter-based. Site (y, x) at sweep t uses the counter
  ``t * L * L + y * L + x`` and the sample's key (k1, k2): ``r = mix64(mix64(k1 + counter *
  GAMMA) ^ k2)`` (SplitMix64's finalizer), whose high and low 32 bits give the two uniforms
  u1, u2 in [0, 1) of the update (:func:`uniform_pair`). torch has no uint64 arithmetic on
  every device, so the uint64 values are carried in int64 tensors with the same bits:
  addition and multiplication wrap identically, right shifts are masked to make them logical,
  and the constants above 2**63 are written as their two's-complement int64 values. The
  uniforms are bit for bit those of :func:`latentspin.anneal.heatbath_numba.uniform_pair` (tested).
* Sweep 0 is the random initial state: cos θ = 1 - 2 u1, azimuth 2π u2. Heat-bath sweeps
  count from 1; each updates colour c = 0 ((x + y) even) first, then c = 1. Zero-temperature
  (quench) sweeps follow, which set each spin along its local field and leave a spin whose
  field has |h|² <= 1e-300 as it is; they draw no random numbers.
* The field is :func:`latentspin.physics.observables.local_field`'s, h = J Σ S_nb + D_x × (S_{x-1} -
  S_{x+1}) + D_y × (S_{y-1} - S_{y+1}) + B ẑ, summed in the numba kernel's order. The draw is
  ``heatbath_numba.draw_spin``: 1 - cos θ about h from ``heatbath_delta`` (with its cutoff β|h| <=
  1e-10 below which the draw is uniform), then Rodrigues' rotation from the z frame onto h,
  mirrored through the origin when h_z < 0.

Where the twins differ: the numba kernel evaluates exp, log1p and sincos as its own polynomials
and this kernel calls torch's ``expm1``, ``log1p``, ``cos`` and ``sin``, so one update differs by
a few ulp. That is all, at first (after one sweep from the same state the spins agree to 1e-14,
the random initial states to 1e-15), but the dynamics is chaotic and the difference grows
through the anneal: measured at L = 32, 1e-10 after 50 sweeps of a cooling from T = 3, O(1)
after 200 (once T crosses about 1). From there the two samples of one key are different,
equally distributed configurations (tested: fixed-temperature statistics of the two agree).

Layout. The state is kept per checkerboard colour as two tensors (L * L/2, 3, B), site-major with
the batch innermost: row y * L/2 + j of colour c is the site (y, x = 2j + p), p = (y + c) mod 2
(the numba layout without its ghost columns). A half sweep gathers the four neighbours of the
active colour from the other one (precomputed periodic indices; each gather copies whole rows of
3B numbers) and computes the field and the new spins of the active sublattice only; the inactive
one is not touched. Spins come in and go out as (B, 3, L, L).

Precision: float64, or float32 for GPU speed (same counters; the uniforms are the float64 ones
rounded to float32; the cutoffs are those of float64 except |h|² <= 1e-300, which becomes the
float32 ``tiny``). A float32 sweep differs from the float64 one by about 1e-6.

Batch independence: every operation is elementwise per site or a gather within a sample, so a
sample's spins are a function of its key and the schedule alone, bit for bit, as long as torch
computes an elementwise function the same way at every position of a tensor. On CUDA it does.
On the CPU it does in torch 2.13 (AVX2; tested, also in batches that torch's threads split in
the middle of a sample, where the remainder of a chunk is not SIMD-aligned); a torch build whose
scalar and SIMD paths of exp, log1p, sin or cos differed would break this at the last bit. The
workflow anneals on the CPU with the numba kernel anyway.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch
from torch import Tensor

from latentspin.anneal import random_stream
from latentspin.anneal.schedule import check_lattice, check_sweep_number
from latentspin.physics.hamiltonian import Hamiltonian

# --- counter-based random numbers in int64 ---------------------------------------------------

_U64 = (1 << 64) - 1


def as_int64(value: int) -> int:
    """The int64 with the bits of the uint64 `value` (taken mod 2**64)."""
    value &= _U64
    return value - (1 << 64) if value >= 1 << 63 else value


GAMMA = as_int64(random_stream.GAMMA)
_M1 = as_int64(random_stream.M1)
_M2 = as_int64(random_stream.M2)
_LOW32 = 0xFFFFFFFF
_TWO_M32 = 2.0**-32
_FLOATS = (torch.float64, torch.float32)


def _shr(z: Tensor, s: int) -> Tensor:
    """Logical right shift of the uint64 bits in int64 z by s (1 <= s <= 63): torch's shift of
    int64 is arithmetic, so the sign bits it copies in are masked off."""
    return (z >> s) & ((1 << (64 - s)) - 1)


def mix64(z: Tensor) -> Tensor:
    """SplitMix64's finalizer on int64 tensors holding uint64 bits."""
    z = (z ^ _shr(z, 30)) * _M1
    z = (z ^ _shr(z, 27)) * _M2
    return z ^ _shr(z, 31)


def hash64(k1: Tensor, k2: Tensor, counter: Tensor) -> Tensor:
    """``mix64(mix64(k1 + counter * GAMMA) ^ k2)`` (uint64, wrapping) as int64 bits; broadcasts."""
    return mix64(mix64(k1 + counter * GAMMA) ^ k2)


def _unit(bits32: Tensor, dtype: torch.dtype) -> Tensor:
    """32-bit integers to uniforms k / 2**32 in [0, 1): exact in float64 (as the numba kernel's
    bit construction), the float64 value rounded to nearest in float32."""
    return bits32.to(dtype) * _TWO_M32


def uniform_pair(k1: Tensor, k2: Tensor, counter: Tensor, dtype: torch.dtype = torch.float64) -> tuple[Tensor, Tensor]:
    """The two uniforms in [0, 1) of (key, counter): the high and the low 32 bits of
    :func:`hash64`, as :func:`latentspin.anneal.heatbath_numba.uniform_pair`. Arguments are int64 tensors with
    the uint64 bits (see :func:`key_tensor`); they broadcast."""
    _check_dtype(dtype)
    return _uniforms(k1 + counter * GAMMA, k2, dtype)


def _uniforms(z: Tensor, k2: Tensor, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    """:func:`uniform_pair` from z = k1 + counter * GAMMA (int64 bits)."""
    r = mix64(mix64(z) ^ k2)
    return _unit(_shr(r, 32), dtype), _unit(r & _LOW32, dtype)


def key_tensor(keys, device=None) -> Tensor:
    """Sample keys (B, 2) as an int64 tensor holding their uint64 bits: from a NumPy uint64 array
    (what :func:`latentspin.core.seeds.sample_keys` returns), or an int64 or uint64 tensor."""
    if isinstance(keys, Tensor):
        if keys.dtype == torch.uint64:
            keys = keys.view(torch.int64)
        elif keys.dtype != torch.int64:
            raise TypeError(f"keys must hold uint64 bits (a uint64 or int64 tensor), got {keys.dtype}")
        out = keys.to(device)
    else:
        arr = np.asarray(keys)
        if arr.dtype == np.uint64:
            arr = arr.view(np.int64)
        elif arr.dtype != np.int64:
            raise TypeError(f"keys must be a uint64 array (montecarlo.sample_keys), got {arr.dtype}")
        out = torch.from_numpy(np.ascontiguousarray(arr)).to(device)
    if out.ndim != 2 or out.shape[1] != 2:
        raise ValueError(f"keys must have shape (B, 2), got {tuple(out.shape)}")
    return out


# --- the heat-bath draw -----------------------------------------------------------------------


def _h2_min(dtype: torch.dtype) -> float:
    """|h|² at or below which a field counts as zero: the numba kernel's 1e-300 in float64, the
    smallest normal number in float32 (1e-300 is 0 there)."""
    return 1e-300 if dtype == torch.float64 else float(torch.finfo(dtype).tiny)


def heatbath_delta(a: Tensor, u: Tensor) -> Tensor:
    """1 - cos θ for cos θ drawn from p(c) ∝ exp(a c) on [-1, 1], a = β|h| >= 0, at the uniform u:
    -log1p(u expm1(-2a)) / a, which neither overflows nor cancels at large a; 2u where
    a <= 1e-10 (the numba kernel's cutoff); clamped to [0, 2]."""
    big = a > 1e-10
    a_safe = torch.where(big, a, 1.0)
    d = -torch.log1p(u * torch.expm1(-2.0 * a_safe)) / a_safe
    return torch.where(big, d, 2.0 * u).clamp(0.0, 2.0)


def draw_spins(hx: Tensor, hy: Tensor, hz: Tensor, beta: float, u1: Tensor, u2: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Spins drawn from exp(β S·h) on the unit sphere, from two uniforms per site; the numba
    kernel's ``draw_spin`` elementwise. The polar angle about h comes from u1
    (:func:`heatbath_delta`), the azimuth 2π u2 about it; the draw is rotated from the z frame
    onto h by Rodrigues' formula about z × h, mirrored through the origin when h_z < 0 so that
    1/(1 + m_z) stays bounded. A zero field (|h|² <= 1e-300) draws uniformly about z."""
    h2 = hx * hx + hy * hy + hz * hz
    nonzero = h2 > _h2_min(h2.dtype)
    inv_h = 1.0 / torch.sqrt(torch.where(nonzero, h2, 1.0))
    h = torch.where(nonzero, h2 * inv_h, 0.0)
    nx = torch.where(nonzero, hx * inv_h, 0.0)
    ny = torch.where(nonzero, hy * inv_h, 0.0)
    nz = torch.where(nonzero, hz * inv_h, 1.0)
    d = heatbath_delta(beta * h, u1)
    sin_t = torch.sqrt(d * (2.0 - d))
    cos_t = 1.0 - d
    phi = (2.0 * math.pi) * u2
    vx = torch.cos(phi) * sin_t
    vy = torch.sin(phi) * sin_t
    sg = torch.where(nz >= 0.0, 1.0, -1.0).to(h2.dtype)
    mx, my, mz, vz = sg * nx, sg * ny, sg * nz, sg * cos_t
    f = 1.0 / (1.0 + mz)
    mv = mx * vx + my * vy
    proj = mv * f
    return vx + mx * (vz - proj), vy + my * (vz - proj), mz * vz - mv


# --- lattice geometry -----------------------------------------------------------------------


def _check_dtype(dtype):
    if dtype not in _FLOATS:
        raise ValueError(f"dtype must be torch.float64 or torch.float32, got {dtype}")


class _Geometry:
    """Index tensors of the checkerboard layout of an L x L lattice on one device, per colour c:
    ``sites[c]`` the flat index y * L + x of each row, ``right/left/up/down[c]`` the row of the
    other colour at x + 1, x - 1, y + 1, y - 1, and ``site_gamma[c]`` (L * L/2, 1) the site's
    counter within its sweep times GAMMA (int64 bits, wrapping)."""

    def __init__(self, L: int, device: torch.device):
        check_lattice(L)
        H = L // 2
        y, j = np.arange(L)[:, None], np.arange(H)[None, :]
        as_index = lambda a: torch.from_numpy(np.ascontiguousarray(a.ravel(), dtype=np.int64)).to(device)  # noqa: E731
        self.L, self.device = L, device
        self.sites, self.right, self.left, self.up, self.down, self.site_gamma = [], [], [], [], [], []
        for c in (0, 1):
            p = (y + c) % 2
            site = y * L + 2 * j + p
            self.sites.append(as_index(site))
            # the other colour in row y has p' = 1 - p: x + 1 is its element j + p, x - 1 is j + p - 1
            self.right.append(as_index(y * H + (j + p) % H))
            self.left.append(as_index(y * H + (j + p - 1) % H))
            # in rows y +- 1 the other colour has p' = p: the same element j
            self.up.append(as_index((y + 1) % L * H + j))
            self.down.append(as_index((y - 1) % L * H + j))
            with np.errstate(over="ignore"):
                sg = site.astype(np.uint64) * np.uint64(random_stream.GAMMA)
            self.site_gamma.append(as_index(sg.view(np.int64))[:, None])

    def sweep_offset(self, sweep: int) -> int:
        """(sweep * L * L) * GAMMA as int64 bits: k1 + counter * GAMMA = (k1 + this) + site_gamma."""
        return as_int64(sweep * self.L * self.L * random_stream.GAMMA)


@lru_cache(maxsize=16)
def _geometry_cached(L: int, device: torch.device) -> _Geometry:
    return _Geometry(L, device)


def _geometry(L: int, device) -> _Geometry:
    device = torch.device(device) if device is not None else torch.device("cpu")
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    return _geometry_cached(L, device)


def to_checkerboard(spins: Tensor, geo: _Geometry) -> list[Tensor]:
    """(B, 3, L, L) -> the two colours, each (L * L/2, 3, B)."""
    flat = spins.reshape(*spins.shape[:2], -1).permute(2, 1, 0)
    return [flat.index_select(0, geo.sites[c]) for c in (0, 1)]


def from_checkerboard(cb: list[Tensor], geo: _Geometry) -> Tensor:
    """The two colours (L * L/2, 3, B) -> (B, 3, L, L)."""
    B, L = cb[0].shape[2], geo.L
    out = cb[0].new_empty(L * L, 3, B)
    for c in (0, 1):
        out.index_copy_(0, geo.sites[c], cb[c])
    return out.permute(2, 1, 0).reshape(B, 3, L, L)


# --- half sweeps ---------------------------------------------------------------------------


def _cross_term(d1: float, w1: Tensor, d2: float, w2: Tensor) -> Tensor | None:
    """d1 w1 - d2 w2, a component of a cross product with a constant DM vector; terms with a zero
    coefficient are left out (exactly: they add a signed zero), None when both are."""
    if d1 != 0.0 and d2 != 0.0:
        return d1 * w1 - d2 * w2
    if d1 != 0.0:
        return d1 * w1
    if d2 != 0.0:
        return (-d2) * w2
    return None


def _field(other: Tensor, c: int, geo: _Geometry, ham: Hamiltonian) -> tuple[Tensor, Tensor, Tensor]:
    """The local field (three (L * L/2, B) tensors) at the sites of colour c, from the spins of the
    other colour: h = J (S_{x+1} + S_{x-1} + S_{y+1} + S_{y-1}) + D_x × (S_{x-1} - S_{x+1})
    + D_y × (S_{y-1} - S_{y+1}) + B ẑ, the terms in the numba kernel's order."""
    a = other.index_select(0, geo.right[c])  # x + 1
    b = other.index_select(0, geo.left[c])  # x - 1
    up = other.index_select(0, geo.up[c])  # y + 1
    dn = other.index_select(0, geo.down[c])  # y - 1
    exchange = ham.J * (a + b + up + dn)
    u, v = b - a, dn - up
    dx, dy = ham.dmi_vectors()
    h = []
    for k in range(3):
        k1, k2 = (k + 1) % 3, (k + 2) % 3
        hk = exchange[:, k]
        for d, w in ((dx, u), (dy, v)):
            term = _cross_term(d[k1], w[:, k2], d[k2], w[:, k1])
            if term is not None:
                hk = hk + term
        h.append(hk)
    if ham.B != 0:  # the Zeeman term (left out at B = 0, so that the field-free kernel is unchanged)
        h[2] = h[2] + ham.B
    return h[0], h[1], h[2]


def _heatbath_colour(other: Tensor, k1s: Tensor, k2: Tensor, beta: Tensor, c: int, geo: _Geometry,
                     ham: Hamiltonian) -> Tensor:
    """New spins of colour c, from the spins of the other colour: a heat-bath draw at inverse
    temperature beta (a 0-d tensor, so that a compiled half sweep serves every temperature) with
    the uniforms of a sweep whose per-sample part of the counter is already in k1s."""
    hx, hy, hz = _field(other, c, geo, ham)
    # k1 + (sweep L² + site) GAMMA, wrapping: the sweep's part per sample (k1s), the site's precomputed
    u1, u2 = _uniforms(k1s + geo.site_gamma[c], k2, hx.dtype)
    return torch.stack(draw_spins(hx, hy, hz, beta, u1, u2), dim=1)


def _beta_tensor(beta: float, like: Tensor) -> Tensor:
    return torch.tensor(beta, dtype=like.dtype, device=like.device)


def _quench_colour(other: Tensor, me: Tensor, c: int, geo: _Geometry, ham: Hamiltonian) -> Tensor:
    """New spins of colour c at zero temperature: along the local field, or unchanged where
    |h|² <= 1e-300."""
    hx, hy, hz = _field(other, c, geo, ham)
    h2 = hx * hx + hy * hy + hz * hz
    keep = h2 <= _h2_min(h2.dtype)
    inv = 1.0 / torch.sqrt(torch.where(keep, 1.0, h2))
    return torch.stack([torch.where(keep, me[:, k], h * inv) for k, h in enumerate((hx, hy, hz))], dim=1)


class _HalfSweeps:
    """The two half-sweep functions, eager or through torch.compile (`backend` names its backend:
    "inductor" fuses each half sweep's ~50 elementwise kernels into a few). Compiled functions
    are shapes-static: one graph per colour, lattice, batch size and dtype, compiled on first
    use and cached by torch across processes."""

    def __init__(self, backend: str | None):
        if backend is None:
            self.heatbath, self.quench = _heatbath_colour, _quench_colour
        else:
            # one graph per (colour, L, batch, dtype): a benchmark over several L and batches would
            # pass torch's default of 8 per function and fall back to eager
            limit = "recompile_limit" if hasattr(torch._dynamo.config, "recompile_limit") else "cache_size_limit"
            setattr(torch._dynamo.config, limit, max(64, getattr(torch._dynamo.config, limit)))
            self.heatbath, self.quench = (torch.compile(f, fullgraph=True, dynamic=False, backend=backend)
                                          for f in (_heatbath_colour, _quench_colour))


@lru_cache(maxsize=None)
def _half_sweeps(backend: str | None) -> _HalfSweeps:
    return _HalfSweeps(backend)


def compile_backend(compile: bool | str) -> str | None:
    """The torch.compile backend a `compile` option asks for: None (eager) for False, "inductor"
    for True, else the backend named."""
    if compile is False or compile is None:
        return None
    if compile is True:
        return "inductor"
    if isinstance(compile, str) and compile in torch._dynamo.list_backends(exclude_tags=()):
        return compile
    raise ValueError(f"compile must be true, false or a torch.compile backend "
                     f"({', '.join(torch._dynamo.list_backends())}, or aot_eager to test), got {compile!r}")


def _check_beta(beta: float) -> float:
    beta = float(beta)
    if not beta > 0:  # also NaN
        raise ValueError(f"inverse temperature beta must be > 0 (inf for a quench), got {beta}")
    return beta


def _sweep_cb(cb: list[Tensor], beta: float | Tensor, k1: Tensor, k2: Tensor, sweep: int, geo: _Geometry,
              ham: Hamiltonian, halves: _HalfSweeps | None = None):
    """One sweep of the checkerboard colours in place: a quench where beta is the float inf, else
    a heat-bath sweep at beta (a float, or a 0-d tensor on the spins' device, which keeps the
    host from waiting on a copy every sweep)."""
    halves = halves or _half_sweeps(None)
    if not isinstance(beta, Tensor) and beta == math.inf:
        for c in (0, 1):
            cb[c] = halves.quench(cb[1 - c], cb[c], c, geo, ham)
        return
    beta_t = beta if isinstance(beta, Tensor) else _beta_tensor(beta, cb[0])
    k1s = k1 + geo.sweep_offset(sweep)
    for c in (0, 1):
        cb[c] = halves.heatbath(cb[1 - c], k1s, k2, beta_t, c, geo, ham)


def _random_cb(k1: Tensor, k2: Tensor, geo: _Geometry, dtype: torch.dtype) -> list[Tensor]:
    cb = []
    for c in (0, 1):
        u1, u2 = _uniforms(k1 + geo.site_gamma[c], k2, dtype)  # sweep 0
        cos_t = 1.0 - 2.0 * u1
        sin_t = torch.sqrt((1.0 - cos_t * cos_t).clamp_min(0.0))
        phi = (2.0 * math.pi) * u2
        cb.append(torch.stack([torch.cos(phi) * sin_t, torch.sin(phi) * sin_t, cos_t], dim=1))
    return cb


def _keys(keys, device) -> tuple[Tensor, Tensor]:
    k = key_tensor(keys, device)
    return k[:, 0], k[:, 1]  # (B,): broadcast against (L * L/2, 1) site tensors


def _lattice_of(spins: Tensor) -> int:
    if spins.ndim != 4 or spins.shape[1] != 3 or spins.shape[2] != spins.shape[3]:
        raise ValueError(f"spins must have shape (B, 3, L, L), got {tuple(spins.shape)}")
    _check_dtype(spins.dtype)
    check_lattice(spins.shape[-1])
    return spins.shape[-1]


# --- public API ----------------------------------------------------------------------------


@torch.no_grad()
def random_state(keys, L: int, device=None, dtype: torch.dtype = torch.float64) -> Tensor:
    """Uniform random spins (B, 3, L, L) from sweep 0 of each sample's stream: cos θ = 1 - 2 u1,
    azimuth 2π u2, as :func:`latentspin.anneal.heatbath_numba.random_state`."""
    _check_dtype(dtype)
    geo = _geometry(L, device)
    k1, k2 = _keys(keys, geo.device)
    return from_checkerboard(_random_cb(k1, k2, geo, dtype), geo)


@torch.no_grad()
def sweep_batch(spins: Tensor, keys, beta: float, sweep: int, ham: Hamiltonian, *, compile: bool | str = False
                ) -> Tensor:
    """One sweep (numbered `sweep`, >= 1 for a heat-bath sweep) of each lattice in spins
    (B, 3, L, L) with its key: a heat-bath sweep at inverse temperature beta, or a
    zero-temperature sweep when beta is inf. Returns new spins; the input is not modified. As
    :func:`latentspin.anneal.heatbath_numba.sweep_batch`, up to the rounding of exp, log1p, cos and sin.
    `compile` runs the half sweeps through torch.compile (:func:`compile_backend`)."""
    halves = _half_sweeps(compile_backend(compile))
    geo = _geometry(_lattice_of(spins), spins.device)
    k1, k2 = _keys(keys, geo.device)
    if k1.shape[0] != spins.shape[0]:
        raise ValueError(f"{spins.shape[0]} lattices but {k1.shape[0]} keys")
    beta = _check_beta(beta)
    check_sweep_number(sweep, heat_bath=beta != math.inf)
    cb = to_checkerboard(spins, geo)
    _sweep_cb(cb, beta, k1, k2, int(sweep), geo, ham, halves)
    return from_checkerboard(cb, geo)


def _checked_chain(betas, n_quench: int, first_sweep: int) -> list[float]:
    betas = [_check_beta(b) for b in np.asarray(betas, dtype=np.float64).ravel()]
    if n_quench < 0:
        raise ValueError(f"n_quench must be >= 0, got {n_quench}")
    check_sweep_number(first_sweep, heat_bath=bool(betas))
    return betas


def _run_chain(cb: list[Tensor], betas: list[float], first_sweep: int, n_quench: int, k1, k2, geo: _Geometry,
               ham: Hamiltonian, halves: _HalfSweeps):
    """Heat-bath sweeps at `betas` (numbered first_sweep, ...), then n_quench zero-temperature
    sweeps, of the checkerboard colours in place: :func:`latentspin.anneal.heatbath_numba.run_chain`."""
    on_device = torch.tensor(betas, dtype=cb[0].dtype, device=geo.device)  # one copy for the whole schedule
    for i, t in enumerate(range(int(first_sweep), int(first_sweep) + len(betas))):
        _sweep_cb(cb, on_device[i], k1, k2, t, geo, ham, halves)
    for _ in range(n_quench):
        _sweep_cb(cb, math.inf, k1, k2, 0, geo, ham, halves)


@torch.no_grad()
def chain_batch(spins: Tensor, keys, betas, n_quench: int, ham: Hamiltonian, *, first_sweep: int = 1,
                compile: bool | str = False) -> Tensor:
    """Heat-bath sweeps at the inverse temperatures `betas` (numbered first_sweep, ...), then
    n_quench zero-temperature sweeps, of each lattice in spins (B, 3, L, L) with its key (none
    needed without `betas`), converted to the checkerboard layout once: the anneal's chain from
    a given state (the stability check's kick), as :func:`latentspin.anneal.heatbath_numba.chain_batch`.
    Returns new spins; the input is not modified."""
    halves = _half_sweeps(compile_backend(compile))
    betas = _checked_chain(betas, n_quench, first_sweep)
    geo = _geometry(_lattice_of(spins), spins.device)
    k1, k2 = _keys(keys, geo.device) if betas else (None, None)
    if betas and k1.shape[0] != spins.shape[0]:
        raise ValueError(f"{spins.shape[0]} lattices but {k1.shape[0]} keys")
    cb = to_checkerboard(spins, geo)
    _run_chain(cb, betas, first_sweep, n_quench, k1, k2, geo, ham, halves)
    return from_checkerboard(cb, geo)


@torch.no_grad()
def quench(spins: Tensor, n_sweeps: int, ham: Hamiltonian) -> Tensor:
    """n_sweeps zero-temperature sweeps of spins (B, 3, L, L): each spin set along its local field,
    colour 0 then colour 1. Returns new spins."""
    if n_sweeps < 0:
        raise ValueError(f"n_sweeps must be >= 0, got {n_sweeps}")
    return chain_batch(spins, None, [], n_sweeps, ham)


@torch.no_grad()
def anneal_batch(keys, L: int, ham: Hamiltonian, betas, n_quench: int, *, first_sweep: int = 1, device=None,
                 dtype: torch.dtype = torch.float64, compile: bool | str = False) -> Tensor:
    """Anneal one sample per key, as :func:`latentspin.anneal.heatbath_numba.anneal_batch`: the random initial
    state (sweep 0), heat-bath sweeps at the inverse temperatures `betas` (numbered first_sweep,
    first_sweep + 1, ...), then n_quench zero-temperature sweeps. Returns spins (B, 3, L, L) of
    `dtype` on `device`; each sample depends on its key and the schedule alone. `compile` runs
    the half sweeps through torch.compile (:func:`compile_backend`): the same draws, rounded
    differently where the compiler fuses arithmetic."""
    _check_dtype(dtype)
    halves = _half_sweeps(compile_backend(compile))
    betas = _checked_chain(betas, n_quench, first_sweep)
    geo = _geometry(L, device)
    k1, k2 = _keys(keys, geo.device)
    cb = _random_cb(k1, k2, geo, dtype)
    _run_chain(cb, betas, first_sweep, n_quench, k1, k2, geo, ham, halves)
    return from_checkerboard(cb, geo)
