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


include: "rules/common.smk"


wildcard_constraints:
    split="|".join(SPLITS),
    shard=r"\d+",
    beta=r"[0-9.e+-]+",
    algorithm="|".join(ALGORITHMS),
    objective="|".join(OBJECTIVES),


include: "rules/anneal.smk"
include: "rules/vae.smk"
include: "rules/explore.smk"


rule all:
    default_target: True
    input:
        expand("results/data/{split}.zarr", split=SPLITS),
        expand("results/data/{split}_summary.json", split=SPLITS),
        "results/figures/data_samples.png",
        "results/vae/diagnostics.csv",
        "results/figures/vae_diagnostics.png",
        "results/figures/vae_reconstruction.png",
        "results/explore/metrics.csv",
