"""Where a field turns the annealed labyrinths into skyrmion lattices: a short scan of B.

    python dev/field_scan.py [--config presets/quick.yaml] [--fields 0 0.02 ...] [--samples 8]
                             [--out docs/field-scan.png] [--csv docs/field-scan.csv]

Anneals `samples` configurations at each field with the preset's lattice, couplings and
schedule (the workflow's own kernel and random streams, split "field-scan"), and reports for each
field the mean ε, Mz and W and the number of skyrmions, counted as the local maxima of -S_z below
S_z = -0.5 that stand alone (a skyrmion's core; an elongated domain counts as one as well, so the
count is read beside the pictures). Draws one sample per field (the colours of the workflow's
figures: hue the in-plane direction, white +z, black -z). The chosen field of presets/field.yaml
comes from this scan (docs/results.md, "Skyrmion lattices in a field").
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))

from latentspin.anneal.driver import anneal  # noqa: E402
from latentspin.anneal.schedule import Schedule  # noqa: E402
from latentspin.core import config as cfg  # noqa: E402
from latentspin.core.seeds import sample_keys  # noqa: E402
from latentspin.figures.style import plt, save_figure, show_spins  # noqa: E402
from latentspin.physics import observables  # noqa: E402
from latentspin.physics.hamiltonian import Hamiltonian  # noqa: E402


def core_count(spins: np.ndarray, below: float = -0.5) -> np.ndarray:
    """Per sample: connected regions (periodic, 4-neighbour) where S_z < `below`: skyrmion cores
    in a +z background (a stripe domain counts as one too)."""
    counts = []
    for sz in spins[:, 2]:
        mask = sz < below
        seen = np.zeros_like(mask)
        n, L = 0, mask.shape[0]
        for y0, x0 in zip(*np.nonzero(mask)):
            if seen[y0, x0]:
                continue
            n += 1
            stack = [(y0, x0)]
            seen[y0, x0] = True
            while stack:
                y, x = stack.pop()
                for dy, dx in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                    v, u = (y + dy) % L, (x + dx) % L
                    if mask[v, u] and not seen[v, u]:
                        seen[v, u] = True
                        stack.append((v, u))
        counts.append(n)
    return np.array(counts)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(ROOT / "presets" / "quick.yaml"))
    parser.add_argument("--fields", type=float, nargs="+",
                        default=[0.0, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.1, 0.12])
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=str(ROOT / "docs" / "field-scan.png"))
    parser.add_argument("--csv", default=str(ROOT / "docs" / "field-scan.csv"))
    args = parser.parse_args(argv)

    config = cfg.load([ROOT / "config.yaml", args.config], ("seed", "lattice", "hamiltonian", "anneal"))
    L, schedule = config["lattice"]["L"], Schedule.from_config(config["anneal"])
    keys = sample_keys(config["seed"], "field-scan", range(args.samples))
    rows, shown = [], []
    for B in args.fields:
        ham = Hamiltonian.from_config(config["hamiltonian"] | {"B": B})
        start = time.perf_counter()
        spins = anneal(keys, L, ham, schedule, threads=args.threads)
        seconds = time.perf_counter() - start
        m = observables.measure(torch.from_numpy(spins), ham)
        cores = core_count(spins)
        rows.append({"B": B, "samples": args.samples, "energy": float(m["energy"].mean()),
                     "Mz": float(m["Mz"].mean()), "W": float(m["W"].mean()), "W_min": round(float(m["W"].min()), 6) + 0.0,
                     "W_max": round(float(m["W"].max()), 6) + 0.0, "cores": float(cores.mean()), "seconds": round(seconds, 1)})
        shown.append((B, spins[0], float(m["W"][0]), float(m["Mz"][0])))
        print(f"B = {B:g}: ε {rows[-1]['energy']:.4f}, Mz {rows[-1]['Mz']:.3f}, W {rows[-1]['W']:.2f} "
              f"[{rows[-1]['W_min']:g}, {rows[-1]['W_max']:g}], cores {rows[-1]['cores']:.1f} ({seconds:.1f} s)",
              flush=True)
    table = pd.DataFrame(rows)
    table.to_csv(args.csv, index=False, float_format="%.5g")

    cols = 5
    fig, axes = plt.subplots(-(-len(shown) // cols), cols, figsize=(2.1 * cols, 2.5 * -(-len(shown) // cols) + 0.4),
                             squeeze=False)
    for ax, (B, s, W, Mz) in zip(axes.flat, shown):
        show_spins(ax, s, f"B = {B:g}\nW = {round(W)}, Mz = {Mz:.2f}")
    for ax in list(axes.flat)[len(shown):]:
        ax.axis("off")
    fig.suptitle(f"annealed at L = {L}, J = {config['hamiltonian']['J']:g}, |D| = {config['hamiltonian']['D']:g} "
                 f"({config['hamiltonian']['dmi']}), {schedule.sweeps} + {schedule.quench_sweeps} sweeps: "
                 "sample 0 at each field")
    save_figure(fig, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
