import copy
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from latentspin.core import config as cfg

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


def run_snakemake(root, workdir, *targets, extra=(), configfiles=(), env=None, timeout=600, check=True,
                  preset="smoke"):
    """Snakemake on a preset (the smoke preset unless named), as a user types it; returns the
    process and its seconds. With check (the default), a failed run fails the test."""
    # targets first: --configfile takes several values and would swallow them
    cmd = [sys.executable, "-m", "snakemake", *targets, "-s", str(root / "Snakefile"), "--directory", str(workdir),
           "--cores", "2", *extra, "--configfile", str(root / "presets" / f"{preset}.yaml"), *map(str, configfiles)]
    start = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    assert r.returncode == 0 or not check, r.stderr[-3000:]
    return r, time.perf_counter() - start


def dry_run_jobs(output: str) -> dict[str, int]:
    """A dry run's job counts by rule (its 'Job stats' table)."""
    table = output[output.index("Job stats:"):]
    return {rule: int(n) for rule, n in re.findall(r"^(\w+)\s+(\d+)$", table, flags=re.MULTILINE) if rule != "total"}


def config_leaves(config: dict, prefix: str = ""):
    """A config's values by dotted key (``vae.training.epochs``), an empty mapping being a value, for
    comparing a preset with the paper key by key."""
    for k, v in config.items():
        if isinstance(v, dict) and v:
            yield from config_leaves(v, f"{prefix}{k}.")
        else:
            yield f"{prefix}{k}", v


WORKFLOW_FILES = ("Snakefile", "config.yaml", "rules", "workflow", "presets", "envs", "profiles")


@pytest.fixture(scope="session")
def checkout(tmp_path_factory, root) -> Path:
    """A copy of the workflow (Snakefile, rules, package, configs) that the smoke DAG runs from, so
    that a test may edit its code (a figure's module) without touching the repository."""
    copy = tmp_path_factory.mktemp("checkout")
    for name in WORKFLOW_FILES:
        source = root / name
        if source.is_dir():
            shutil.copytree(source, copy / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(source, copy / name)
    return copy


# An objective of your own (docs/objectives.md) in the full matrix of the smoke run: the worked
# example, as a module of the working directory
CUSTOM_OBJECTIVE = {"sz2": {"function": "myobjectives:sz2", "maximize": True, "pressure": 5}}


@pytest.fixture(scope="session")
def smoke(tmp_path_factory, checkout, root):
    """The smoke DAG run locally (from the `checkout` copy): the training-data target first, then
    the rest of the DAG, then the full exploration matrix on top, with an objective of your own
    (CUSTOM_OBJECTIVE, from the working directory's myobjectives.py). Shared by the workflow tests
    and the SLURM test, which compares its outputs with these. (Its speed is a benchmark's, in
    docs/benchmarks.md, not a test's.)"""
    workdir = tmp_path_factory.mktemp("smoke")
    run_snakemake(checkout, workdir, "results/data/train.zarr")
    run_snakemake(checkout, workdir)
    # the run as the paper's pairs left it, kept for the tests that damage a run and rerun it
    shutil.copytree(workdir, tmp_path_factory.getbasetemp() / "smoke_paper_pairs", symlinks=True)
    shutil.copy(root / "examples" / "objectives.py", workdir / "myobjectives.py")
    matrix = workdir / "full_matrix.yaml"
    matrix.write_text(yaml.safe_dump({"explore": {"full_matrix": True, "objectives": {"custom": CUSTOM_OBJECTIVE}}}))
    run_snakemake(checkout, workdir, configfiles=[matrix])
    return workdir


@pytest.fixture(scope="session")
def smoke_paper_pairs(smoke, tmp_path_factory) -> Path:
    """The smoke run as it stood after the paper's pairs, before the full matrix was added."""
    return tmp_path_factory.getbasetemp() / "smoke_paper_pairs"
