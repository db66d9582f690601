"""The heat-bath draw and the numerics under it, against exact distributions."""

import math

import numpy as np
import pytest
from latentspin.anneal import heatbath_numba as K
from numba import njit
from scipy import stats


@njit(error_model="numpy")
def _draws(h, beta, k1, k2, n):
    out = np.empty((n, 3))
    for i in range(n):
        u1, u2 = K.uniform_pair(k1, k2, np.uint64(i))
        out[i, 0], out[i, 1], out[i, 2] = K.draw_spin(h[0], h[1], h[2], beta, u1, u2)
    return out


@njit(error_model="numpy")
def _apply(fn_id, x):
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        if fn_id == 0:
            out[i] = K.expm1_neg(x[i])
        else:
            out[i] = K.log1p_neg(x[i])
    return out


@njit(error_model="numpy")
def _sincos(u):
    c = np.empty_like(u)
    s = np.empty_like(u)
    for i in range(u.shape[0]):
        c[i], s[i] = K.sincos_turn(u[i])
    return c, s


@njit(error_model="numpy")
def _uniforms(k1, k2, n):
    out = np.empty((n, 2))
    for i in range(n):
        out[i, 0], out[i, 1] = K.uniform_pair(k1, k2, np.uint64(i))
    return out


def exact_cdf(c, a):
    """CDF of cos(theta) with density ∝ exp(a c) on [-1, 1], stable for large a."""
    return -np.expm1(a * (c + 1)) / -np.expm1(2 * a) if a < 30 else np.exp(a * (c - 1)) * (1 - np.exp(-a * (c + 1)))


def langevin(a):
    return 1 / math.tanh(a) - 1 / a


N = 200_000
DIRECTIONS = [(0.3, -0.5, 0.81), (0.0, 0.0, 1.0), (0.0, 0.0, -1.0), (1.0, 0.0, 0.0), (-0.2, 0.1, -0.97)]


@pytest.mark.parametrize("a", [0.01, 1.0, 50.0])
@pytest.mark.parametrize("direction", DIRECTIONS)
def test_polar_angle_follows_boltzmann(a, direction):
    """One spin in a fixed field: cos(theta) about h passes a KS test against the exact
    distribution and its mean is the Langevin function coth(a) - 1/a, a = beta |h|."""
    n_hat = np.array(direction) / np.linalg.norm(direction)
    h = 2.0 * n_hat
    beta = a / 2.0
    s = _draws(h, beta, np.uint64(12345), np.uint64(int(a * 1000) + 7), N)
    np.testing.assert_allclose(np.linalg.norm(s, axis=1), 1.0, atol=1e-14)
    cos_t = s @ n_hat
    assert stats.kstest(cos_t, lambda c: exact_cdf(c, a)).pvalue > 1e-3
    # the mean to 5 standard errors
    var = 1 - 2 * langevin(a) / a - langevin(a) ** 2  # <c^2> - <c>^2 = 1 - 2L(a)/a - L(a)^2
    assert abs(cos_t.mean() - langevin(a)) < 5 * math.sqrt(var / N)


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_azimuth_is_uniform(direction):
    """The in-plane angle about h is uniform, also when h is parallel to an axis."""
    n_hat = np.array(direction) / np.linalg.norm(direction)
    s = _draws(3.0 * n_hat, 0.5, np.uint64(99), np.uint64(3), N)
    helper = np.array([1.0, 0, 0]) if abs(n_hat[0]) < 0.9 else np.array([0, 1.0, 0])
    e1 = np.cross(n_hat, helper)
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(n_hat, e1)
    phi = np.arctan2(s @ e2, s @ e1)
    assert stats.kstest(phi, stats.uniform(-np.pi, 2 * np.pi).cdf).pvalue > 1e-3


def test_zero_field_gives_uniform_sphere():
    s = _draws(np.zeros(3), 10.0, np.uint64(5), np.uint64(6), N)
    for k in range(3):  # each component of a uniform unit vector is uniform on [-1, 1]
        assert stats.kstest(s[:, k], stats.uniform(-1, 2).cdf).pvalue > 1e-3


def test_large_field_neither_overflows_nor_loses_precision():
    """At beta h = 1e6 the spin sits within ~1e-6 of h, 1 - cos is exponential with mean
    1/(beta h), and nothing is NaN."""
    a = 1e6
    s = _draws(np.array([0.0, 1.0, 0.0]), a, np.uint64(1), np.uint64(2), N)
    assert np.isfinite(s).all()
    d = 1 - s[:, 1]
    assert (d >= 0).all()
    assert abs(d.mean() * a - 1) < 5 / math.sqrt(N)


def test_expm1_and_log1p_to_a_few_ulp():
    rng = np.random.default_rng(0)
    x = -np.concatenate([rng.random(10**5) * 1e-9, rng.random(10**5), rng.random(10**5) * 800, [0.0]])
    ref = np.expm1(np.maximum(x, -700))
    got = _apply(0, x)
    nz = ref != 0
    assert np.max(np.abs(got[nz] - ref[nz]) / np.abs(ref[nz])) < 1e-15
    assert got[~nz].tolist() == [0.0]
    w = -np.concatenate([rng.random(10**5) * 1e-12, rng.random(10**5), 1 - rng.random(10**5) * 1e-9, [1 - 2**-32]])
    ref = np.log1p(w)
    assert np.max(np.abs(_apply(1, w) - ref) / np.abs(ref)) < 1e-15


def test_sincos_turn():
    u = np.random.default_rng(1).random(10**6)
    c, s = _sincos(np.concatenate([u, [0.0, 0.25, 0.5, 0.75]]))
    np.testing.assert_allclose(c[:-4], np.cos(2 * np.pi * u), atol=2e-15)
    np.testing.assert_allclose(s[:-4], np.sin(2 * np.pi * u), atol=2e-15)
    np.testing.assert_allclose(np.stack([c[-4:], s[-4:]]), [[1, 0, -1, 0], [0, 1, 0, -1]], atol=1e-15)


def test_counter_uniforms_are_uniform_and_independent():
    """Both 32-bit halves are uniform, uncorrelated with each other and along the counter,
    and different keys give different streams."""
    u = _uniforms(np.uint64(2022), np.uint64(7), N)
    for k in range(2):
        assert stats.kstest(u[:, k], "uniform").pvalue > 1e-3
    limit = 5 / math.sqrt(N)
    assert abs(np.corrcoef(u[:, 0], u[:, 1])[0, 1]) < limit
    assert abs(np.corrcoef(u[:-1, 0], u[1:, 0])[0, 1]) < limit
    other = _uniforms(np.uint64(2022), np.uint64(8), N)
    assert abs(np.corrcoef(u[:, 0], other[:, 0])[0, 1]) < limit
    assert ((u >= 0) & (u < 1)).all()
