"""The network's periodic layers: convolutions on the lattice as a torus, so that no edge exists."""

from __future__ import annotations

from torch import Tensor, nn

from latentspin.physics.lattice import periodic_pad


class PeriodicConv2d(nn.Conv2d):
    """Convolution on the periodic lattice: the input wrapped by k // 2 sites on every side
    (:func:`periodic_pad`), then convolved without padding, so no edge exists.
    The same function and parameters as ``nn.Conv2d(padding=k // 2, padding_mode="circular")``,
    whose state-dict keys it keeps (model files of either load into the other); the wrap is
    faster on the CPU than torch's circular padding."""

    def __init__(self, c_in: int, c_out: int, k: int):
        super().__init__(c_in, c_out, k)
        self.wrap = k // 2

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(periodic_pad(x, self.wrap))
