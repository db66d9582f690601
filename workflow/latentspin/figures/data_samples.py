"""The data stage's figure: a grid of annealed configurations of a split."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from latentspin.core.stores import check_split, open_dataset
from latentspin.figures.inputs import evenly_spaced
from latentspin.figures.style import sample_grid, save_figure


def draw(dataset: str | Path, out: str | Path | Sequence[str | Path], n: int = 12, ncols: int = 4, dpi: int = 120):
    """n configurations of the split store `dataset`, evenly spread over it, titled with ε, W and
    Mz; the suptitle names the Hamiltonian, its field where it has one."""
    ds = open_dataset(dataset)
    sub = ds.isel(sample=evenly_spaced(ds.sizes["sample"], n))
    check_split(sub, dataset)
    titles = [f"#{k}  ε={e:.4f}\nW={round(w):+d}  $M_z$={m:.2f}" for k, e, w, m in
              zip(sub["sample"].values, sub["energy"].values, sub["W"].values, sub["Mz"].values)]
    fig = sample_grid(sub["spins"].values, titles, ncols=ncols)
    field = f", B={ds.attrs['B']:g}" if ds.attrs.get("B") else ""
    fig.suptitle(f"{Path(dataset).name}: L={ds.attrs['L']}, J={ds.attrs['J']}, D={ds.attrs['D']}, "
                 f"{ds.attrs['dmi']} DMI{field}")
    fig.tight_layout()
    save_figure(fig, out, dpi)
