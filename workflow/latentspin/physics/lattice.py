"""The periodic lattice as a torus: maps wrapped by p sites on every side.

Used wherever a neighbourhood must see across the boundary: the nodal points' local maxima
(:mod:`latentspin.physics.observables`) and the VAE's periodic convolutions
(:mod:`latentspin.vae.layers`). The wrap is written once into a new tensor and differentiated by
its adjoint, which is faster than torch's circular padding on the CPU (docs/benchmarks.md).
"""

from __future__ import annotations

import torch
from torch import Tensor


def _wrap_by_concatenation(x: Tensor, p: int) -> Tensor:
    x = torch.cat([x[..., -p:], x, x[..., :p]], dim=-1)
    return torch.cat([x[..., -p:, :], x, x[..., :p, :]], dim=-2)


def _wrap(x: Tensor, p: int) -> Tensor:
    """The padded map written once into a new tensor (in x's layout, channels-last included): faster
    than the two concatenations, which each write a whole map (docs/benchmarks.md). Autograd would
    differentiate its slice assignments as slowly as the concatenations: :class:`_PeriodicPad` does
    it instead."""
    cl = x.dim() == 4 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last)
    out = torch.empty((*x.shape[:-2], x.shape[-2] + 2 * p, x.shape[-1] + 2 * p), dtype=x.dtype, device=x.device,
                      memory_format=torch.channels_last if cl else torch.contiguous_format)
    inner = slice(p, -p)
    out[..., inner, inner] = x
    out[..., inner, :p] = x[..., -p:]
    out[..., inner, -p:] = x[..., :p]
    out[..., :p, :] = out[..., -2 * p:-p, :]  # rows, from the rows just wrapped: corners included
    out[..., -p:, :] = out[..., p:2 * p, :]
    return out


def _fold(g: Tensor, p: int) -> Tensor:
    """The adjoint of :func:`_wrap`: the gradient of every padded site added to the site it copies
    (padded index i holds site (i - p) mod L: the first p rows or columns copy the last p, the last
    p the first p; each corner block both)."""
    g_x = g[..., p:-p, p:-p].clone(memory_format=torch.preserve_format)  # (..., L, L)
    inner = slice(p, -p)
    g_x[..., :, -p:] += g[..., inner, :p]
    g_x[..., :, :p] += g[..., inner, -p:]
    g_x[..., -p:, :] += g[..., :p, inner]
    g_x[..., :p, :] += g[..., -p:, inner]
    g_x[..., -p:, -p:] += g[..., :p, :p]
    g_x[..., -p:, :p] += g[..., :p, -p:]
    g_x[..., :p, -p:] += g[..., -p:, :p]
    g_x[..., :p, :p] += g[..., -p:, -p:]
    return g_x


class _PeriodicPad(torch.autograd.Function):
    """The wrap with its adjoint as the backward: autograd's own backward of the concatenations
    builds a zero-filled input-sized gradient for each of their six slices and sums them, a large
    share of a CPU training step (docs/benchmarks.md); this one copies the interior once and adds
    the borders."""

    @staticmethod
    def forward(ctx, x: Tensor, p: int) -> Tensor:
        ctx.p = p
        return _wrap(x, p)

    @staticmethod
    def backward(ctx, g: Tensor):
        return _fold(g, ctx.p), None


def periodic_pad(x: Tensor, p: int) -> Tensor:
    """x (..., L, L) wrapped by p sites on every side, as on a torus: what
    ``F.pad(x, (p, p, p, p), mode="circular")`` gives, faster on the CPU (docs/benchmarks.md), and
    differentiated by :class:`_PeriodicPad`'s adjoint. Under torch.compile it is two
    concatenations, whose autograd backward the compiler fuses (faster there than the Function)."""
    if p == 0:
        return x
    if not 0 < p <= min(x.shape[-2:]):
        raise ValueError(f"periodic padding of {p} sites needs 0 <= p <= L, got L = {tuple(x.shape[-2:])}")
    if torch.compiler.is_compiling():
        return _wrap_by_concatenation(x, p)
    return _PeriodicPad.apply(x, p) if x.requires_grad else _wrap(x, p)
