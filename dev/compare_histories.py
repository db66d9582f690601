"""Compare the loss curves of two trainings of one model from the same start, epoch by epoch:
whether bfloat16 autocast (vae.training.precision) keeps float32's curve.

    python dev/compare_histories.py REFERENCE OTHER [--names float32 bfloat16] [--epochs N]

REFERENCE and OTHER are a training's history.csv, or its checkpoint.pt while it still trains (the
history of the epochs it finished, read weights-only). Prints a Markdown table, one row per epoch
both have: each loss of both, the relative difference (OTHER - REFERENCE) / REFERENCE, and each
epoch's seconds; then the largest relative difference of each loss. Exits 1 if the histories
share no epoch.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

LOSSES = ("train_rc", "train_kl", "valid_rc", "valid_kl")


def history(path: Path) -> pd.DataFrame:
    if path.suffix == ".csv":
        return pd.read_csv(path)
    import torch

    return pd.DataFrame(torch.load(path, map_location="cpu", weights_only=True)["history"])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("reference", type=Path)
    p.add_argument("other", type=Path)
    p.add_argument("--names", nargs=2, default=["float32", "bfloat16"])
    p.add_argument("--epochs", type=int, default=None, help="compare the first N epochs only")
    args = p.parse_args(argv)
    a, b = history(args.reference), history(args.other)
    both = a.merge(b, on="epoch", suffixes=("_a", "_b"))
    if args.epochs is not None:
        both = both[both["epoch"] <= args.epochs]
    if both.empty:
        print("no epoch in common", file=sys.stderr)
        return 1
    na, nb = args.names
    header = ["epoch"] + [f"{loss} {n}" for loss in LOSSES for n in (na, nb, "rel. diff")] + [f"s {na}", f"s {nb}"]
    print("| " + " | ".join(header) + " |")
    print("|" + " --- |" * len(header))
    for _, r in both.iterrows():
        cells = [str(int(r["epoch"]))]
        for loss in LOSSES:
            x, y = r[f"{loss}_a"], r[f"{loss}_b"]
            cells += [f"{x:.5g}", f"{y:.5g}", f"{(y - x) / x:+.2%}"]
        cells += [f"{r['seconds_a']:.0f}", f"{r['seconds_b']:.0f}"]
        print("| " + " | ".join(cells) + " |")
    worst = {loss: ((both[f"{loss}_b"] - both[f"{loss}_a"]) / both[f"{loss}_a"]).abs().max() for loss in LOSSES}
    print("\nlargest |relative difference|: " + ", ".join(f"{k} {v:.2%}" for k, v in worst.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
