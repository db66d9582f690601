"""The metrics table collected from every search's summary: plain pandas, no torch, so collecting
is instant."""

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
