"""One figure of the workflow, drawn from its outputs and saved: what the ``figure`` command runs.

Each figure is a module of this package with a ``draw(config, *, runs, train, model, metrics)``
function; a figure's rule names its module as an input, so that editing it redraws that figure.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path

from latentspin.figures.inputs import load_runs
from latentspin.figures.style import save_figure

FIGURES = ("fig1", "fig3", "fig4", "fig5", "convergence", "paths", "levels", "relaxation", "rounds")


def draw_figure(name: str, config, out: str | Path | Sequence[str | Path], *, runs=None, train=None, model=None,
                metrics=None) -> None:
    """Draw figure `name` (one of FIGURES) from the explored pairs' stores `runs` ({(algorithm,
    objective): path} or ``ALGORITHM/OBJECTIVE=PATH`` strings), the training data `train`, the
    explored `model` and the metrics table `metrics`, as the figure needs, and save it to `out`."""
    if name not in FIGURES:
        raise ValueError(f"unknown figure {name!r}; expected one of {FIGURES}")
    module = importlib.import_module(f"latentspin.figures.{name}")  # torch only for the figures that need it
    fig = module.draw(config, runs=load_runs(runs), train=train, model=model, metrics=metrics)
    save_figure(fig, out, config["figures"]["dpi"])
