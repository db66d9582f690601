# Included first: config validation, and helpers that compute targets.
import sys
from pathlib import Path

from snakemake.utils import min_version, validate

min_version("9.0")

# The package lives in workflow/: importable here, and in every job's shell (also in a
# --use-conda environment, which holds only the dependencies) through the shell prefix.
PACKAGE_DIR = str(Path(workflow.basedir) / "workflow")
sys.path.insert(0, PACKAGE_DIR)
# (braces doubled twice: by the f-string, then by Snakemake, which formats the prefix)
shell.prefix(f'export PYTHONPATH="{PACKAGE_DIR}${{{{PYTHONPATH:+:$PYTHONPATH}}}}"; ')

from latentspin.core.config import (  # noqa: E402
    ALGORITHMS,
    ANNEAL_SECTIONS,
    CLAIMS_SECTIONS,
    DIAGNOSE_SECTIONS,
    FIGURE_SECTIONS,
    TRAIN_SECTIONS,
    OBJECTIVES,
    SPLITS,
    check_consistency,
    explore_pairs,
    explore_sections,
    section_json,
)

validate(config, "../workflow/schemas/config.schema.yaml")
check_consistency(config)

ENV = "../envs/latentspin.yaml"

# beta as it appears in paths: results/vae/beta0.001/
BETAS = [repr(float(b)) for b in config["vae"]["betas"]]
CHOSEN_BETA = repr(float(config["vae"]["beta"]))

# the explored (algorithm, objective) pairs
PAIRS = explore_pairs(config)


def shard_paths(split):
    """The annealing shards of a split, one job each."""
    return [
        f"results/data/shards/{split}/{i}.zarr"
        for i in range(config["data"][split]["shards"])
    ]


def figure_outputs(name, caption, category):
    """A figure's PNG (in the report, with its caption) and PDF."""
    return {
        "png": report(
            f"results/figures/{name}.png",
            caption=f"../workflow/report/{caption}.rst",
            category=category,
        ),
        "pdf": f"results/figures/{name}.pdf",
    }


FIGURE_CODE = Path(PACKAGE_DIR) / "latentspin" / "figures"
# the modules every figure is drawn with; a figure's own module comes first
SHARED_FIGURE_CODE = ["style.py", "panels.py", "inputs.py", "job.py"]


def figure_code(module, shared=SHARED_FIGURE_CODE):
    """The code that draws a figure, as inputs of its rule: editing it redraws that figure, and
    editing a shared module every figure that uses it (no -R needed)."""
    return [str(FIGURE_CODE / name) for name in [f"{module}.py", *shared]]


def trajectory(algorithm, objective):
    return f"results/explore/{algorithm}/{objective}/trajectory.zarr"


def run_args(pairs):
    """--run options naming the trajectory store of each pair."""
    return " ".join(f"--run {a}/{o}={trajectory(a, o)}" for a, o in pairs)


def gpus(stage):
    """GPUs a job of `stage` (anneal, vae, explore) asks the scheduler for: one where the config sets
    that stage's device to cuda. "auto" asks for none: a cluster cannot know in advance what a
    node has, so a user who wants GPU nodes says cuda (docs/running.md, "Clusters")."""
    return 1 if config[stage]["device"] == "cuda" else 0
