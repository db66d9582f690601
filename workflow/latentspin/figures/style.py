"""The figures' shared style: spin configurations in the paper's convention, and saving.

Hue is the in-plane angle atan2(S_y, S_x) on a colour wheel; S_z fades the colour to white at
+z and to black at -z (the paper's Fig. 1a legend).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # figures are files; no display on clusters or CI
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import hsv_to_rgb  # noqa: E402

from latentspin.core.io import atomic  # noqa: E402

# The figures' style sheet, set once for every figure (each figure module imports this one): a
# panel's title, a figure's title and the legends take their sizes from here, and the few texts
# that need another size name it below instead of a number.
STYLE = {
    "axes.titlesize": 8,
    "figure.titlesize": 9,
    "legend.fontsize": 7,
    "legend.title_fontsize": 7,
    "legend.frameon": False,
}
matplotlib.rcParams.update(STYLE)
NOTE = 7  # annotations, and tick labels where many crowd an axis
SMALL = 6  # a legend with many entries
ROW_LABEL = 9  # the label of a row of panels
PANEL_LETTER = 11  # (a), (b), ... beside a panel


def spin_rgb(spins: np.ndarray) -> np.ndarray:
    """RGB image (L, L, 3) in [0, 1] of one configuration (3, L, L); x runs to the right and
    y upwards when drawn with ``origin="lower"``."""
    sx, sy, sz = (np.asarray(c, dtype=np.float64) for c in spins)
    hue = (np.arctan2(sy, sx) / (2 * np.pi)) % 1.0
    sz = np.clip(sz, -1.0, 1.0)
    saturation = np.where(sz > 0, 1.0 - sz, 1.0)
    value = np.where(sz < 0, 1.0 + sz, 1.0)
    return hsv_to_rgb(np.stack([hue, saturation, value], axis=-1))


def show_spins(ax, spins: np.ndarray, title: str | None = None):
    ax.imshow(spin_rgb(spins), origin="lower", interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)


def colour_wheel(ax, size: int = 129):
    """The legend: in-plane direction as hue around the disc, S_z from +1 at the centre (white)
    to 0 at the rim; the black of -z is the same wheel seen from below."""
    y, x = np.mgrid[-1 : 1 : size * 1j, -1 : 1 : size * 1j]
    r = np.hypot(x, y)
    sz = np.sqrt(np.clip(1 - r**2, 0, 1))
    wheel = spin_rgb(np.stack([x, y, sz]))
    rgba = np.concatenate([wheel, (r <= 1)[..., None].astype(float)], axis=-1)
    ax.imshow(rgba, origin="lower", extent=(-1, 1, -1, 1))
    ax.set_axis_off()
    ax.set_title("$S_z>0$ (white at +z)", fontsize=NOTE)


def sample_grid(spins: np.ndarray, titles: Sequence[str] | None = None, ncols: int = 4, panel: float = 2.2):
    """A figure with one panel per configuration in spins (n, 3, L, L) and a colour wheel."""
    n = len(spins)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols + 1, figsize=(panel * (ncols + 1), panel * nrows), squeeze=False,
                             gridspec_kw={"width_ratios": [1] * ncols + [0.6]})
    for k, ax in enumerate(axes[:, :ncols].flat):
        if k < n:
            show_spins(ax, spins[k], titles[k] if titles is not None else None)
        else:
            ax.set_axis_off()
    for ax in axes[:, ncols]:
        ax.set_axis_off()
    colour_wheel(axes[0, ncols])
    fig.tight_layout()
    return fig


def save_figure(fig, paths: str | Path | list, dpi: int = 120):
    """Save to each path in the format its suffix names (.png, .pdf, .svg), then close."""
    for path in [paths] if isinstance(paths, (str, Path)) else paths:
        with atomic(path) as tmp:
            fig.savefig(tmp, dpi=dpi, format=Path(path).suffix.lstrip(".") or "png")
        # The first save laid the figure out; the others reuse that layout (in inches, so the same
        # at any dpi) instead of solving it again, which for the many-panel figures is most of
        # their drawing time.
        fig.set_layout_engine("none")
    plt.close(fig)
