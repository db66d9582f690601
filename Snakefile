# latentspin: Park et al., "Optimization of physical quantities in the autoencoder latent
# space", Sci. Rep. 12, 9003 (2022), as one DAG.
#
#   snakemake --cores all                                   # the paper (config.yaml)
#   snakemake --cores all --configfile presets/quick.yaml   # a laptop
#   snakemake --cores 2 --configfile presets/smoke.yaml     # CI, minutes

import os


# The paper's parameters, found beside this file whatever --directory is; --configfile and
# --config merge over them.
configfile: os.path.join(workflow.basedir, "config.yaml")


report: "workflow/report/workflow.rst"


include: "rules/common.smk"


wildcard_constraints:
    split="|".join(SPLITS),
    shard=r"\d+",
    beta=r"[0-9.e+-]+",
    algorithm="|".join(ALGORITHMS),
    objective="|".join(OBJECTIVE_NAMES),
    round=r"[1-9]\d*",


include: "rules/anneal.smk"
include: "rules/vae.smk"
include: "rules/explore.smk"
include: "rules/figures.smk"
include: "rules/retrain.smk"


# Jobs of seconds (figures, tables) run where Snakemake runs, not through a cluster's queue,
# where each would wait for a slot and start a Python of its own for a few seconds of work
# (profiles/slurm). Locally this changes nothing.
localrules:
    all,
    data_figure,
    vae_figures,
    explore_metrics,
    claims,
    figure_1,
    figure_3,
    figure_4,
    figure_5,
    figure_convergence,
    figure_paths,
    figure_levels,
    figure_relaxation,
    retrain_metrics,
    figure_rounds,
    claims_round,
    paths_round,


# every figure: the data, the VAE diagnostics, the paper's and those beyond it
ALL_FIGURES = [
    "data_samples",
    "vae_diagnostics",
    "vae_reconstruction",
    "vae_samples",
] + FIGURES


rule all:
    default_target: True
    input:
        expand("results/data/{split}.zarr", split=SPLITS),
        expand("results/data/{split}_summary.json", split=SPLITS),
        "results/vae/diagnostics.csv",
        "results/explore/metrics.csv",
        expand("results/figures/{name}.{ext}", name=ALL_FIGURES, ext=("png", "pdf")),
        "results/claims.csv",
        # beyond the paper, with explore.retrain.rounds > 0
        ["results/retrain/metrics.csv", *expand("results/figures/rounds.{ext}", ext=("png", "pdf"))]
        if RETRAIN_ROUNDS else [],
        [f"results/retrain/round{r}/claims.csv" for r in range(1, RETRAIN_ROUNDS + 1)] if RETRAIN_PAPER_PAIRS else [],
        [f"results/retrain/round{r}/paths.png" for r in range(1, RETRAIN_ROUNDS + 1)] if RETRAIN_SEARCHES else [],
