"""Numba kernels of the heat-bath Monte Carlo.

Everything in the inner loop is branch-free and free of libm calls so that LLVM vectorizes it
(AVX2: four float64 lanes): the random numbers come from a counter-based hash, and exp, log1p
and sincos are polynomial evaluations below, each tested against NumPy to a few ulp.
``error_model="numpy"`` matters as much: Python's error model checks every division for zero,
which blocks vectorization (docs/benchmarks.md).

Layout. A lattice of shape (3, L, L) is stored per checkerboard colour, ``cb[c, k, y, 1 + j]``
holds component k of the site (y, x = 2j + p) with p = (y + c) mod 2, so a half sweep walks
contiguous memory. Columns 0 and L/2 + 1 are periodic ghost copies of columns L/2 and 1. For a
site of colour c in row y, its neighbours are all of the other colour: x + 1 at column
1 + j + p, x - 1 at 1 + j + p - 1, and y ± 1 at column 1 + j.

Random numbers: the counter-based stream of :mod:`latentspin.anneal.random_stream`, two uniforms
of 32 bits per update.
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.extending import intrinsic

from latentspin.anneal import random_stream

_NJIT = dict(error_model="numpy", cache=True)


def couplings(ham) -> tuple[float, np.ndarray, np.ndarray, float]:
    """The kernels' last four arguments for a Hamiltonian: (J, D_x, D_y, B), the DM vectors of the
    +x and +y bonds as float64 arrays."""
    dx, dy = (np.array(v, dtype=np.float64) for v in ham.dmi_vectors())
    return float(ham.J), dx, dy, float(ham.B)

# --- bit casts (no libm, no int<->float conversion: AVX2 has no 64-bit integer converts) ------


@intrinsic
def _f64_bits(typingctx, x):
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.uint64(types.float64), codegen


@intrinsic
def _bits_f64(typingctx, x):
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.uint64), codegen


# --- counter-based random numbers -------------------------------------------------------------

GAMMA = np.uint64(random_stream.GAMMA)
_M1 = np.uint64(random_stream.M1)
_M2 = np.uint64(random_stream.M2)
_ONE_BITS = np.uint64(0x3FF0000000000000)
_LOW32 = np.uint64(0xFFFFFFFF)
_S20, _S27, _S30, _S31, _S32, _S52 = (np.uint64(s) for s in (20, 27, 30, 31, 32, 52))


@njit(inline="always", **_NJIT)
def mix64(z):
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(inline="always", **_NJIT)
def hash64(k1, k2, counter):
    return mix64(mix64(k1 + counter * GAMMA) ^ k2)


@njit(inline="always", **_NJIT)
def uniform_pair(k1, k2, counter):
    """Two uniforms in [0, 1) with 32-bit resolution from one 64-bit hash.

    32 bits suffice for the heat bath: they truncate the cos(theta) tail at a probability of
    2**-32 and resolve 1 - cos(theta) to 2**-32 / (beta h).
    """
    r = hash64(k1, k2, counter)
    u1 = _bits_f64(_ONE_BITS | ((r >> _S32) << _S20)) - 1.0
    u2 = _bits_f64(_ONE_BITS | ((r & _LOW32) << _S20)) - 1.0
    return u1, u2


# --- polynomial elementary functions ------------------------------------------------------------

_LN2_HI = 6.93147180369123816490e-01  # fdlibm's split of ln 2: LN2_HI * k is exact
_LN2_LO = 1.90821492927058770002e-10
_INV_LN2 = 1.0 / math.log(2.0)
_ROUND_MAGIC = 6755399441055744.0  # 1.5 * 2**52: adding it rounds to an integer in the low bits
_TWO52 = 4503599627370496.0
_SQRT2 = math.sqrt(2.0)
# fdlibm __ieee754_log coefficients for log(1+f) = f - f^2/2 + s(f^2/2 + R(s^2)), s = f/(2+f)
_LG1, _LG2, _LG3, _LG4, _LG5, _LG6, _LG7 = (
    6.666666666666735130e-01,
    3.999999999940941908e-01,
    2.857142874366239149e-01,
    2.222219843214978396e-01,
    1.818357216161805012e-01,
    1.531383769920937332e-01,
    1.479819860511658591e-01,
)
_INV_FACT = np.array([1.0 / math.factorial(n) for n in range(14)])
_SIN = np.array([(-1) ** n / math.factorial(2 * n + 1) for n in range(8)])  # to x^15
_COS = np.array([(-1) ** n / math.factorial(2 * n) for n in range(9)])  # to x^16


@njit(inline="always", **_NJIT)
def expm1_neg(x):
    """exp(x) - 1 for x <= 0, to a few ulp, with no cancellation near 0.

    exp(x) = 2^k (1 + q(r)), r = x - k ln2, |r| <= ln2/2, q a degree-13 Taylor polynomial
    (truncation < 1e-17). expm1 = (2^k - 1) + 2^k q(r) is exact in the k = 0 branch.
    """
    x = max(x, -700.0)
    t = x * _INV_LN2 + _ROUND_MAGIC
    kf = t - _ROUND_MAGIC
    k = _f64_bits(t) - _f64_bits(_ROUND_MAGIC)  # two's-complement integer k
    r = (x - kf * _LN2_HI) - kf * _LN2_LO
    q = _INV_FACT[13]
    for n in range(12, 0, -1):  # Horner for r + r^2/2! + ... + r^13/13!
        q = q * r + _INV_FACT[n]
    q = q * r
    scale = _bits_f64((k + np.uint64(1023)) << _S52)
    return (scale - 1.0) + scale * q


@njit(inline="always", **_NJIT)
def log1p_neg(w):
    """log(1 + w) for -1 < w <= 0, to a few ulp (fdlibm's log and a first-order correction
    for the rounding of v = 1 + w)."""
    v = 1.0 + w
    bits = _f64_bits(v)
    e = _bits_f64((bits >> _S52) | np.uint64(0x4330000000000000)) - _TWO52 - 1023.0
    m = _bits_f64((bits & np.uint64(0x000FFFFFFFFFFFFF)) | _ONE_BITS)  # in [1, 2)
    big = m > _SQRT2
    m = m * 0.5 if big else m
    e = e + 1.0 if big else e
    f = m - 1.0
    s = f / (2.0 + f)
    z = s * s
    w2 = z * z
    t1 = w2 * (_LG2 + w2 * (_LG4 + w2 * _LG6))
    t2 = z * (_LG1 + w2 * (_LG3 + w2 * (_LG5 + w2 * _LG7)))
    hfsq = 0.5 * f * f
    log_v = e * _LN2_HI - ((hfsq - (s * (hfsq + t1 + t2) + e * _LN2_LO)) - f)
    return log_v - ((v - 1.0) - w) / v


_HALF_PI = 0.5 * math.pi
_INV_SQRT2 = 1.0 / math.sqrt(2.0)


@njit(inline="always", **_NJIT)
def sincos_turn(u):
    """(cos 2πu, sin 2πu) for u in [0, 1), to 1e-15: quadrant q = floor(4u), then Taylor
    polynomials around the octant midpoint (|x| <= π/4) rotated by π/4."""
    t = 4.0 * u
    qf = math.floor(t)
    x = (t - qf - 0.5) * _HALF_PI
    z = x * x
    sx = _SIN[7]
    cx = _COS[8]
    for n in range(6, -1, -1):  # Horner in z = x^2 over the Taylor coefficients
        sx = sx * z + _SIN[n]
    for n in range(7, -1, -1):
        cx = cx * z + _COS[n]
    sx = sx * x
    co = (cx - sx) * _INV_SQRT2  # cos(x + π/4)
    si = (cx + sx) * _INV_SQRT2  # sin(x + π/4)
    if qf == 0.0:
        return co, si
    if qf == 1.0:
        return -si, co
    if qf == 2.0:
        return -co, -si
    return si, -co


# --- the heat-bath draw ---------------------------------------------------------------------


@njit(inline="always", **_NJIT)
def heatbath_delta(a, u):
    """1 - cos(theta) for cos(theta) drawn from p(c) ∝ exp(a c) on [-1, 1], a = beta |h| >= 0.

    cos(theta) = 1 + log1p(u expm1(-2a)) / a (Miyatake et al. 1986, in the form that neither
    overflows nor cancels at large a); the limit a -> 0 is 1 - cos(theta) = 2u.
    """
    big = a > 1e-10
    a_safe = a if big else 1.0
    d = -log1p_neg(u * expm1_neg(-2.0 * a_safe)) / a_safe
    d = d if big else 2.0 * u
    return min(2.0, max(0.0, d))


@njit(inline="always", **_NJIT)
def draw_spin(hx, hy, hz, beta, u1, u2):
    """A spin drawn from exp(beta S.h) on the unit sphere, from two uniforms.

    The polar angle is sampled about h; the result is rotated from the z frame onto h by
    Rodrigues' formula about z x h, mirrored through the origin when h_z < 0 so that the
    1/(1 + m_z) factor stays bounded. A zero field gives a uniform spin about z.
    """
    h2 = hx * hx + hy * hy + hz * hz
    nonzero = h2 > 1e-300
    inv_h = 1.0 / math.sqrt(h2 if nonzero else 1.0)
    h = h2 * inv_h if nonzero else 0.0
    nx = hx * inv_h if nonzero else 0.0
    ny = hy * inv_h if nonzero else 0.0
    nz = hz * inv_h if nonzero else 1.0
    d = heatbath_delta(beta * h, u1)
    sin_t = math.sqrt(d * (2.0 - d))
    cos_t = 1.0 - d
    cp, sp = sincos_turn(u2)
    vx = cp * sin_t
    vy = sp * sin_t
    sg = 1.0 if nz >= 0.0 else -1.0
    mx = sg * nx
    my = sg * ny
    mz = sg * nz
    vz = sg * cos_t
    f = 1.0 / (1.0 + mz)
    proj = (mx * vx + my * vy) * f
    return vx + mx * (vz - proj), vy + my * (vz - proj), mz * vz - (mx * vx + my * vy)


# --- lattice layout ---------------------------------------------------------------------------


@njit(**_NJIT)
def to_checkerboard(spins):
    """(3, L, L) -> (2, 3, L, L/2 + 2) float64 with ghost columns filled."""
    L = spins.shape[-1]
    H = L // 2
    cb = np.empty((2, 3, L, H + 2), dtype=np.float64)
    for c in range(2):
        for k in range(3):
            for y in range(L):
                p = (y + c) & 1
                for j in range(H):
                    cb[c, k, y, 1 + j] = spins[k, y, 2 * j + p]
        _fill_ghosts(cb, c)
    return cb


@njit(**_NJIT)
def from_checkerboard(cb, out):
    """(2, 3, L, L/2 + 2) -> out (3, L, L), any float dtype."""
    L = cb.shape[2]
    H = L // 2
    for c in range(2):
        for k in range(3):
            for y in range(L):
                p = (y + c) & 1
                for j in range(H):
                    out[k, y, 2 * j + p] = cb[c, k, y, 1 + j]


@njit(inline="always", **_NJIT)
def _fill_ghosts(cb, c):
    H = cb.shape[3] - 2
    for k in range(3):
        for y in range(cb.shape[2]):
            cb[c, k, y, 0] = cb[c, k, y, H]
            cb[c, k, y, H + 1] = cb[c, k, y, 1]


# --- sweeps ---------------------------------------------------------------------------------


@njit(inline="always", **_NJIT)
def _field(ox, oy, oz, upx, upy, upz, dnx, dny, dnz, r, j, J, dx, dy, B):
    """Local field h = J(sum of neighbours) + D_x x (S_{x-1} - S_{x+1}) + D_y x (S_{y-1} - S_{y+1})
    + B z.

    ox.. hold the other colour's row (x ± 1 at columns r = j + p and r - 1), up.. and dn.. its
    rows y + 1 and y - 1 at column j. dx, dy are the DM vectors of +x and +y bonds, B the field.
    """
    ax, ay, az = ox[r], oy[r], oz[r]  # x + 1
    bx, by, bz = ox[r - 1], oy[r - 1], oz[r - 1]  # x - 1
    cx, cy, cz = upx[j], upy[j], upz[j]  # y + 1
    ex, ey, ez = dnx[j], dny[j], dnz[j]  # y - 1
    ux, uy, uz = bx - ax, by - ay, bz - az
    vx, vy, vz = ex - cx, ey - cy, ez - cz
    hx = J * (ax + bx + cx + ex) + (dx[1] * uz - dx[2] * uy) + (dy[1] * vz - dy[2] * vy)
    hy = J * (ay + by + cy + ey) + (dx[2] * ux - dx[0] * uz) + (dy[2] * vx - dy[0] * vz)
    hz = J * (az + bz + cz + ez) + (dx[0] * uy - dx[1] * ux) + (dy[0] * vy - dy[1] * vx)
    if B != 0.0:  # the Zeeman term; skipped at B = 0 so that the field-free kernel is bitwise unchanged
        hz += B
    return hx, hy, hz


@njit(**_NJIT)
def half_sweep(cb, c, beta, J, dx, dy, B, k1, k2, sweep):
    """Heat-bath update of every site of colour c (beta > 0), or a zero-temperature quench
    (each spin set parallel to its local field) when beta is +inf."""
    L = cb.shape[2]
    H = L // 2
    me = cb[c]
    ot = cb[1 - c]
    quench = beta == np.inf
    base = np.uint64(sweep) * np.uint64(L * L)
    for y in range(L):
        p = (y + c) & 1
        up = y + 1 if y + 1 < L else 0
        dn = y - 1 if y > 0 else L - 1
        mx, my, mz = me[0, y], me[1, y], me[2, y]
        ox, oy, oz = ot[0, y], ot[1, y], ot[2, y]
        upx, upy, upz = ot[0, up], ot[1, up], ot[2, up]
        dnx, dny, dnz = ot[0, dn], ot[1, dn], ot[2, dn]
        row = base + np.uint64(y * L + p)
        if quench:
            for j in range(1, H + 1):
                hx, hy, hz = _field(ox, oy, oz, upx, upy, upz, dnx, dny, dnz, j + p, j, J, dx, dy, B)
                h2 = hx * hx + hy * hy + hz * hz
                keep = h2 <= 1e-300  # a zero field leaves the spin as it is
                inv = 1.0 / math.sqrt(1.0 if keep else h2)
                mx[j] = mx[j] if keep else hx * inv
                my[j] = my[j] if keep else hy * inv
                mz[j] = mz[j] if keep else hz * inv
        else:
            for j in range(1, H + 1):
                hx, hy, hz = _field(ox, oy, oz, upx, upy, upz, dnx, dny, dnz, j + p, j, J, dx, dy, B)
                u1, u2 = uniform_pair(k1, k2, row + np.uint64(2 * (j - 1)))
                mx[j], my[j], mz[j] = draw_spin(hx, hy, hz, beta, u1, u2)
    _fill_ghosts(cb, c)


@njit(**_NJIT)
def random_state(cb, k1, k2):
    """Uniform random spins on the sphere from sweep 0 of the sample's stream."""
    L = cb.shape[2]
    H = L // 2
    for c in range(2):
        for y in range(L):
            p = (y + c) & 1
            row = np.uint64(y * L + p)
            for j in range(1, H + 1):
                u1, u2 = uniform_pair(k1, k2, row + np.uint64(2 * (j - 1)))
                cos_t = 1.0 - 2.0 * u1
                sin_t = math.sqrt(max(0.0, 1.0 - cos_t * cos_t))
                cp, sp = sincos_turn(u2)
                cb[c, 0, y, j] = cp * sin_t
                cb[c, 1, y, j] = sp * sin_t
                cb[c, 2, y, j] = cos_t
        _fill_ghosts(cb, c)


@njit(**_NJIT)
def run_chain(cb, betas, first_sweep, n_quench, J, dx, dy, B, k1, k2):
    """Heat-bath sweeps at inverse temperatures betas (sweep numbers first_sweep, ...), then
    n_quench zero-temperature sweeps."""
    for t in range(betas.shape[0]):
        for c in range(2):
            half_sweep(cb, c, betas[t], J, dx, dy, B, k1, k2, first_sweep + t)
    for _ in range(n_quench):
        for c in range(2):
            half_sweep(cb, c, np.inf, J, dx, dy, B, k1, k2, 0)


@njit(parallel=True, **_NJIT)
def anneal_batch(out, keys, betas, n_quench, J, dx, dy, B):
    """Anneal len(keys) samples from their random initial states, one sample per thread.

    out: (n, 3, L, L) array of any float dtype; keys: (n, 2) uint64. Each sample's result
    depends on its key alone, whatever the batch and the number of threads.
    """
    L = out.shape[-1]
    H = L // 2
    for i in prange(out.shape[0]):
        cb = np.empty((2, 3, L, H + 2), dtype=np.float64)
        random_state(cb, keys[i, 0], keys[i, 1])
        run_chain(cb, betas, 1, n_quench, J, dx, dy, B, keys[i, 0], keys[i, 1])
        from_checkerboard(cb, out[i])


@njit(parallel=True, **_NJIT)
def sweep_batch(spins, keys, beta, sweep, J, dx, dy, B):
    """One heat-bath sweep (numbered `sweep`) of each lattice in spins (n, 3, L, L), in place.
    The kernel's unit of work for benchmarks and for comparison with the NumPy reference."""
    for i in prange(spins.shape[0]):
        cb = to_checkerboard(spins[i])
        for c in range(2):
            half_sweep(cb, c, beta, J, dx, dy, B, keys[i, 0], keys[i, 1], sweep)
        from_checkerboard(cb, spins[i])


@njit(parallel=True, **_NJIT)
def chain_batch(spins, keys, betas, first_sweep, n_quench, J, dx, dy, B):
    """Heat-bath sweeps at inverse temperatures betas (numbered first_sweep, ...), then n_quench
    zero-temperature sweeps, of each lattice in spins (n, 3, L, L), in place, in the checkerboard
    layout throughout (converted once, not once per sweep): the anneal's chain from a given state
    instead of a random one (the relaxation check, with no betas; the stability check's kick)."""
    for i in prange(spins.shape[0]):
        cb = to_checkerboard(spins[i])
        run_chain(cb, betas, first_sweep, n_quench, J, dx, dy, B, keys[i, 0], keys[i, 1])
        from_checkerboard(cb, spins[i])


@njit(**_NJIT)
def site_field(spins, y, x, J, dx, dy, B):
    """Local field at one site of a (3, L, L) lattice, through the kernel's own code path."""
    cb = to_checkerboard(spins)
    L = spins.shape[-1]
    c = (x + y) & 1
    p = (y + c) & 1
    j = 1 + (x - p) // 2
    up = y + 1 if y + 1 < L else 0
    dn = y - 1 if y > 0 else L - 1
    ot = cb[1 - c]
    return _field(ot[0, y], ot[1, y], ot[2, y], ot[0, up], ot[1, up], ot[2, up],
                  ot[0, dn], ot[1, dn], ot[2, dn], j + p, j, J, dx, dy, B)
