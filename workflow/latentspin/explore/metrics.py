"""The metrics table collected from every search's summary: plain pandas, no torch, so collecting
is instant (the retraining loop's table also reads one array of each stochastic search)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from latentspin.core.config import ALGORITHMS, OBJECTIVES
from latentspin.core.io import write_csv


def metrics_table(summaries: list[Mapping]) -> pd.DataFrame:
    """One row per explored pair (results/explore/metrics.csv), in the paper's order; objectives of
    your own follow the built-in ones of their algorithm, by name."""
    def order(s):
        o = s["objective"]
        return ALGORITHMS.index(s["algorithm"]), OBJECTIVES.index(o) if o in OBJECTIVES else len(OBJECTIVES), o

    return pd.DataFrame(sorted(summaries, key=order))


def write_metrics(summaries: list[str | Path], out: str | Path) -> pd.DataFrame:
    """results/explore/metrics.csv from the searches' summary.json files."""
    table = metrics_table([json.loads(Path(p).read_text()) for p in summaries])
    write_csv(table, out)
    return table


def level_diversity(trajectory: str | Path) -> dict:
    """A stochastic search's guard against a collapsed decoder (explore.retrain): the diversity
    (:func:`latentspin.vae.diagnostics.diversity`) of the kept samples of its first γ level, the
    broadest distribution it decodes, as ``level_diversity``; {} for a search without levels."""
    import torch

    from latentspin.core.stores import open_dataset
    from latentspin.vae.diagnostics import diversity

    if not Path(trajectory).exists():
        return {}
    ds = open_dataset(trajectory)
    if "level_spins" not in ds or ds["level_spins"].shape[0] == 0:
        return {}
    return {"level_diversity": diversity(torch.from_numpy(ds["level_spins"][0].values))}


def write_round_metrics(summaries: list[str | Path], pools: list[str | Path], out: str | Path) -> pd.DataFrame:
    """results/retrain/metrics.csv: every pair's row in every round of explore.retrain (its
    ``round`` column, 0 the plain run's) with the diversity of its first γ level's samples where it
    has levels (:func:`level_diversity`), and the path of its trajectory (``trajectory``: the store
    beside its summary), beside what its round's decoder was retrained on (from each pool.json,
    round 0 left blank): the found states and their share of the weights, the validation L_RC of
    the original data and the diversity of decoded prior samples, each before and after the round's
    fine-tuning."""
    stores = [Path(p).parent / "trajectory.zarr" for p in summaries]
    rows = [json.loads(Path(p).read_text()) | {"trajectory": str(store)} | level_diversity(store)
            for p, store in zip(summaries, stores)]
    table = metrics_table(rows)
    # a summary written before rounds existed is of the paper's decoder: round 0
    table["round"] = (table["round"] if "round" in table else pd.Series(0, index=table.index)).fillna(0).astype(int)
    table = table.sort_values(["round"], kind="stable").reset_index(drop=True)
    if pools:
        keep = ["objective", "round", "found_states", "found_survived_kick", "found_weight", "valid_rc_before",
                "valid_rc", "prior_diversity_before", "prior_diversity"]
        pool = pd.DataFrame([json.loads(Path(p).read_text()) for p in pools]).reindex(columns=keep)
        pool = pool.rename(columns={c: f"retrain_{c}" for c in keep[2:]})
        table = table.merge(pool, on=["objective", "round"], how="left")
    write_csv(table, out)
    return table
