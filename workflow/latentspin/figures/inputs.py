"""What the figures and the claims read from the workflow's outputs: the explored pairs' stores,
and X_IN, the first samples of the training data."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from latentspin.core.config import ALGORITHMS, OBJECTIVE_NAME, OBJECTIVES
from latentspin.core.errors import ConfigError
from latentspin.core.stores import StoreArrays, check_split, load_arrays, open_dataset, read_values

Pair = tuple[str, str]


def parse_run(spec: str) -> tuple[Pair, str]:
    """``ALGORITHM/OBJECTIVE=PATH`` as ((algorithm, objective), path); OBJECTIVE is a built-in
    objective or the name of one of yours (explore.objectives.custom)."""
    pair, sep, path = spec.partition("=")
    algorithm, slash, objective = pair.partition("/")
    if not (sep and slash) or algorithm not in ALGORITHMS or not OBJECTIVE_NAME.fullmatch(objective):
        raise ConfigError(f"--run {spec!r}: expected ALGORITHM/OBJECTIVE=PATH with an algorithm of "
                          f"{ALGORITHMS} and an objective of {OBJECTIVES} or a name of yours")
    return (algorithm, objective), path


def load_runs(runs: Mapping[Pair, str | Path] | Sequence[str] | None) -> dict[Pair, StoreArrays]:
    """The arrays of each explored pair's trajectory store, given as {(algorithm, objective): path}
    or as ``ALGORITHM/OBJECTIVE=PATH`` strings."""
    if runs is None:
        return {}
    if not isinstance(runs, Mapping):
        runs = dict(parse_run(spec) for spec in runs)
    return {pair: load_arrays(path) for pair, path in runs.items()}


def need(runs: Mapping[Pair, StoreArrays], pair: Pair, figure: str) -> StoreArrays:
    if pair not in runs:
        raise ConfigError(f"figure {figure} needs --run {pair[0]}/{pair[1]}=PATH")
    return runs[pair]


def x_in(path: str | Path, n: int, variables: Sequence[str] = ("energy", "W", "Mz")) -> dict[str, np.ndarray]:
    """The first n samples of the training data: i.i.d. annealed states, the paper's X_IN, once
    they have passed the data contract (:func:`latentspin.core.stores.check_split`)."""
    ds = open_dataset(path)
    first = ds.isel(sample=slice(0, min(n, ds.sizes["sample"])))
    check_split(first, path)
    return {v: read_values(first, v, path) for v in variables}


def evenly_spaced(n_total: int, n: int) -> np.ndarray:
    """min(n, n_total) indices spread evenly over range(n_total), both ends included."""
    return np.linspace(0, n_total - 1, min(n, n_total)).round().astype(int)
