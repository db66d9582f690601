"""Tables collected from many jobs' outputs: plain pandas, no torch, so collecting is instant."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from .config import ALGORITHMS, OBJECTIVES


def metrics_table(summaries: list[Mapping]) -> pd.DataFrame:
    """One row per explored pair (results/explore/metrics.csv), in the paper's order."""
    rows = sorted(summaries, key=lambda s: (ALGORITHMS.index(s["algorithm"]), OBJECTIVES.index(s["objective"])))
    return pd.DataFrame(rows)
