"""Calibrate the stability check's thermal kick: which temperature and length make a saddle decay
while a local minimum survives.

    python dev/stability_calibration.py [--L 64] [--samples 2] [--quench 200]
                                        [--out docs/stability-calibration.png] [--csv docs/stability-calibration.csv]

Three states of the paper's Hamiltonian (J = 1, |D| = 0.3 Bloch, zero field): the polarized state
+z (a saddle: a spiral of small q lowers ε), an annealed labyrinth (metastable) and the lattice's
ground-state spiral (the minimum). Each is kicked — heat-bath sweeps at T, then `quench`
zero-temperature sweeps — with the workflow's own kernel, for every T and length of the grid, and its
ε and Mz afterwards are drawn against T, one line per length, the chosen setting (config.yaml's
explore.stability) marked. A good setting moves the polarized state to a spiral's ε and Mz 0 and
leaves the other two where they were.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))

from latentspin.anneal.driver import anneal, kick  # noqa: E402
from latentspin.anneal.schedule import Schedule  # noqa: E402
from latentspin.core.seeds import sample_keys  # noqa: E402
from latentspin.figures.style import plt, save_figure  # noqa: E402
from latentspin.physics import hamiltonian, observables, textures  # noqa: E402
from latentspin.physics.hamiltonian import Hamiltonian  # noqa: E402


def states(L: int, n: int, ham: Hamiltonian) -> dict[str, np.ndarray]:
    up = np.zeros((n, 3, L, L), np.float32)
    up[:, 2] = 1.0
    labyrinth = anneal(sample_keys(2022, "calibration", range(n)), L, ham, Schedule(sweeps=600, quench_sweeps=100))
    q_n, q_m, _ = hamiltonian.lattice_ground_state(L, ham)
    spiral = np.repeat(textures.spiral(L, q_n, q_m, ham).numpy()[None], n, axis=0).astype(np.float32)
    return {"polarized +z": up, "annealed labyrinth": labyrinth, "ground-state spiral": spiral}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--L", type=int, default=64)
    parser.add_argument("--samples", type=int, default=2)
    parser.add_argument("--quench", type=int, default=200)
    parser.add_argument("--temperatures", type=float, nargs="+", default=[0.005, 0.01, 0.02, 0.05, 0.1, 0.2])
    parser.add_argument("--lengths", type=int, nargs="+", default=[100, 300, 1000, 3000])
    parser.add_argument("--out", default=str(ROOT / "docs" / "stability-calibration.png"))
    parser.add_argument("--csv", default=str(ROOT / "docs" / "stability-calibration.csv"))
    args = parser.parse_args(argv)
    ham = Hamiltonian(1.0, 0.3, "bloch")
    chosen = yaml.safe_load((ROOT / "config.yaml").read_text())["explore"].get("stability")
    rows = []
    start = time.perf_counter()
    for name, s in states(args.L, args.samples, ham).items():
        before = observables.measure(torch.from_numpy(s), ham)
        for T in args.temperatures:
            for sweeps in args.lengths:
                keys = sample_keys(7, f"kick-{name}", range(args.samples))
                after = observables.measure(torch.from_numpy(kick(s, ham, T, sweeps, args.quench, keys)), ham)
                for i in range(args.samples):
                    rows.append({"state": name, "T": T, "sweeps": sweeps, "quench": args.quench, "sample": i,
                                 "energy_before": float(before["energy"][i]), "energy": float(after["energy"][i]),
                                 "Mz_before": float(before["Mz"][i]), "Mz": float(after["Mz"][i]),
                                 "W_before": round(float(before["W"][i])), "W": round(float(after["W"][i]))})
        print(f"{name}: done ({time.perf_counter() - start:.0f} s)", flush=True)
    table = pd.DataFrame(rows)
    table.to_csv(args.csv, index=False, float_format="%.7g")

    names = list(dict.fromkeys(table["state"]))
    fig, axes = plt.subplots(2, len(names), figsize=(4.2 * len(names), 6.4), layout="constrained", sharex=True)
    colours = plt.cm.viridis(np.linspace(0, 0.85, len(args.lengths)))
    for col, name in enumerate(names):
        part = table[table["state"] == name]
        for row, (q, label) in enumerate((("energy", "ε after the kick"), ("Mz", "Mz after the kick"))):
            ax = axes[row, col]
            for colour, sweeps in zip(colours, args.lengths):
                mean = part[part["sweeps"] == sweeps].groupby("T")[q].agg(["mean", "min", "max"])
                ax.errorbar(mean.index, mean["mean"], yerr=[mean["mean"] - mean["min"], mean["max"] - mean["mean"]],
                            marker="o", ms=3, color=colour, label=f"{sweeps} sweeps")
            ax.axhline(part[f"{q}_before"].mean(), color="grey", ls="--", lw=1, label="before")
            if chosen:
                pick = part[(part["T"] == chosen["temperature"]) & (part["sweeps"] == chosen["sweeps"])]
                if len(pick):
                    ax.scatter([chosen["temperature"]], [pick[q].mean()], s=160, facecolors="none",
                               edgecolors="C3", linewidths=2, zorder=5, label="chosen")
            ax.set_xscale("log")
            ax.set_ylabel(label)
            if row == 0:
                ax.set_title(name)
            else:
                ax.set_xlabel(f"kick temperature T (then {args.quench} sweeps at T = 0)")
    axes[0, 0].legend(fontsize="small")
    fig.suptitle(f"the thermal kick at L = {args.L}, J = 1, |D| = 0.3 (Bloch), B = 0: {args.samples} samples each "
                 "(bars: their range)")
    save_figure(fig, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
