import copy
from pathlib import Path

import pytest
import yaml

from latentspin import config as cfg

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture
def paper_config() -> dict:
    return copy.deepcopy(yaml.safe_load((ROOT / "config.yaml").read_text()))


@pytest.fixture
def tiny_config(paper_config) -> dict:
    """The paper's physics on a toy lattice: a few seconds of annealing."""
    return cfg.merge(paper_config, {
        "lattice": {"L": 32},
        "data": {"train": {"samples": 6, "shards": 1}, "valid": {"samples": 2, "shards": 1}},
        "anneal": {"sweeps": 40, "quench_sweeps": 10, "threads": 2},
    })
