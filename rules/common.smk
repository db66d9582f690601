# Included first: config validation, and helpers that compute targets.
import os
import sys
from pathlib import Path

from snakemake.utils import min_version, validate

min_version("9.0")

# The package lives in workflow/: importable here, and in every job's shell (also in a
# --use-conda environment, which holds only the dependencies) through the shell prefix.
PACKAGE_DIR = str(Path(workflow.basedir) / "workflow")
sys.path.insert(0, PACKAGE_DIR)
# The modules of your own objectives (explore.objectives.custom, docs/objectives.md) are found in
# the working directory (--directory), then the workflow's directory (beside this Snakefile, which
# Snakemake puts on sys.path itself), then the installed packages: here and in every job alike.
WORK_DIR = os.getcwd()
sys.path.insert(1, WORK_DIR)
# (braces doubled twice: by the f-string, then by Snakemake, which formats the prefix)
shell.prefix(
    f'export PYTHONPATH="{PACKAGE_DIR}:{WORK_DIR}:{workflow.basedir}${{{{PYTHONPATH:+:$PYTHONPATH}}}}"; '
)

from latentspin.core.config import (  # noqa: E402
    ALGORITHMS,
    ANNEAL_SECTIONS,
    CLAIMS_SECTIONS,
    DIAGNOSE_SECTIONS,
    FIGURE_SECTIONS,
    IMPORT_SECTIONS,
    TRAIN_SECTIONS,
    OBJECTIVES,
    PRETRAINED_SECTIONS,
    SPLITS,
    check_consistency,
    custom_objectives,
    explore_job_json,
    retrain_job_json,
    retrain_pairs,
    explore_pairs,
    search_priority,
    objective_module_file,
    objective_names,
    section_json,
)

validate(config, "../workflow/schemas/config.schema.yaml")
check_consistency(config)

ENV = "../envs/latentspin.yaml"

# beta as it appears in paths: results/vae/beta0.001/
BETAS = [repr(float(b)) for b in config["vae"]["betas"]]
CHOSEN_BETA = repr(float(config["vae"]["beta"]))

# The start-up checks below run once, in the main Snakemake process. A cluster job parses this
# Snakefile again in its own process; it skips them (the main process has made them, and the job's
# own command checks what it reads: install-model its model, explore its objective).
CHECK_AT_START = workflow.is_main_process

# vae.pretrained (docs/models.md): the chosen beta's model from a file instead of training, found
# and checked now (its SHA-256, weights, architecture and beta against this config), before any job
PRETRAINED_MODEL = None
if config["vae"].get("pretrained"):
    from latentspin.vae import shipped

    PRETRAINED_MODEL = str(
        shipped.resolve(config["vae"]["pretrained"]["path"], [WORK_DIR, workflow.basedir])
    )
    if CHECK_AT_START:
        shipped.check(config, PRETRAINED_MODEL)

# the explored (algorithm, objective) pairs
PAIRS = explore_pairs(config)
# every objective: the paper's five, then yours, each imported and tried on random spins now,
# before any job (a bad one stops the run naming its key)
OBJECTIVE_NAMES = objective_names(config)
if custom_objectives(config) and CHECK_AT_START:
    from latentspin.explore.objectives import check_custom

    check_custom(config, PAIRS)
# the pairs of the paper's objectives: what its figures and claims read
PAPER_PAIRS = [p for p in PAIRS if p[1] in OBJECTIVES]


def shard_paths(split):
    """The annealing shards of a split, one job each."""
    return [
        f"results/data/shards/{split}/{i}.zarr"
        for i in range(config["data"][split]["shards"])
    ]


# Splits made from a folder of OVF files (data.{split}.ovf, docs/ovf.md) instead of annealing:
# the folder's files are the import's inputs, listed at start-up, so that adding, removing or
# changing a file reruns the import (and what depends on it).
IMPORTED_SPLITS = [s for s in SPLITS if config["data"][s].get("ovf")]
ANNEALED_SPLITS = [s for s in SPLITS if s not in IMPORTED_SPLITS]


def split_pattern(splits):
    """A wildcard constraint matching these splits only (none: a pattern that matches nothing)."""
    return "|".join(splits) if splits else "(?!)"


def _ovf_inputs(split):
    from latentspin.core.errors import ConfigError, DataError
    from latentspin.core.ovf import ovf_files

    try:
        return [str(p) for p in ovf_files(config["data"][split]["ovf"])]
    except DataError as e:
        raise ConfigError(f"config key data.{split}.ovf: {e}") from None


OVF_INPUTS = {split: _ovf_inputs(split) for split in IMPORTED_SPLITS}


def anneal_json(config):
    """The annealing jobs' config sections, without data.{split}.ovf: importing a split reruns no
    annealing of the other."""
    data = {s: {k: v for k, v in spec.items() if k != "ovf"} for s, spec in config["data"].items()}
    return section_json({**config, "data": data}, ANNEAL_SECTIONS)


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


def objective_module(wildcards):
    """The module of an objective of yours, as an input of its searches: editing it reruns them
    (and what reads them), and no other search. Nothing for the paper's objectives."""
    spec = custom_objectives(config).get(wildcards.objective)
    path = objective_module_file(spec["function"]) if spec else None
    return [str(path)] if path else []


def trajectory(algorithm, objective):
    return f"results/explore/{algorithm}/{objective}/trajectory.zarr"


def run_args(pairs, r=0):
    """--run options naming the trajectory store of each pair (in round r of explore.retrain)."""
    return " ".join(f"--run {a}/{o}={round_trajectory(a, o, r)}" for a, o in pairs)


def gpus(stage):
    """GPUs a job of `stage` (anneal, vae, explore) asks the scheduler for: one where the config sets
    that stage's device to cuda. "auto" asks for none: a cluster cannot know in advance what a
    node has, so a user who wants GPU nodes says cuda (docs/running.md, "Clusters")."""
    return 1 if config[stage]["device"] == "cuda" else 0


# explore.retrain (rules/retrain.smk): rounds of search, relax, retrain, search again
RETRAIN_ROUNDS = config["explore"]["retrain"]["rounds"]
# the searches each round repeats (explore.retrain.pairs; all of PAIRS by default)
RETRAIN_PAIRS = retrain_pairs(config)
# ... of the paper's objectives (each round's claims), and the global ones (each round's paths)
RETRAIN_PAPER_PAIRS = [p for p in RETRAIN_PAIRS if p[1] in OBJECTIVES]
RETRAIN_SEARCHES = [p for p in RETRAIN_PAIRS if p[0] != "single_code"]
CHOSEN_MODEL = f"results/vae/beta{CHOSEN_BETA}/model.pt"


def round_dir(objective, r):
    return f"results/retrain/{objective}/round{r}"


def round_model(objective, r):
    """The decoder a round's searches of `objective` use: round 0, the chosen beta's."""
    return CHOSEN_MODEL if int(r) == 0 else f"{round_dir(objective, r)}/model.pt"


def round_trajectory(algorithm, objective, r):
    return trajectory(algorithm, objective) if int(r) == 0 else f"{round_dir(objective, r)}/{algorithm}/trajectory.zarr"


def round_summary(algorithm, objective, r):
    if int(r) == 0:
        return f"results/explore/{algorithm}/{objective}/summary.json"
    return f"{round_dir(objective, r)}/{algorithm}/summary.json"


def searches_of(objective):
    """The algorithms that search for `objective` in every round (explore.retrain.pairs): their
    states feed its decoder."""
    return [a for a, o in RETRAIN_PAIRS if o == objective]


def previous_runs(wildcards):
    r = int(wildcards.round) - 1
    return {a: round_trajectory(a, wildcards.objective, r) for a in searches_of(wildcards.objective)}
