# Stage 3: latent-space exploration, one job per (algorithm, objective) pair.


rule explore:
    input:
        model=f"results/vae/beta{CHOSEN_BETA}/model.pt",
        objective=objective_module,
    output:
        trajectory=directory("results/explore/{algorithm}/{objective}/trajectory.zarr"),
        summary="results/explore/{algorithm}/{objective}/summary.json",
    log:
        "results/logs/explore/{algorithm}_{objective}.log",
    benchmark:
        "results/benchmarks/explore/{algorithm}_{objective}.tsv"
    conda:
        ENV
    threads: config["explore"]["threads"]
    # the longest searches first (search_priority), so that none is left to run alone at the end
    priority: lambda wc: search_priority(config, wc.algorithm)
    resources:
        gpu=gpus("explore"),
    params:
        config=lambda wc: explore_job_json(config, wc.algorithm, wc.objective),
        device=config["explore"]["device"],
        out_dir=lambda wc, output: os.path.dirname(output.summary),
    shell:
        "python -m latentspin explore --config {params.config:q} --algorithm {wildcards.algorithm}"
        " --objective {wildcards.objective} --model {input.model} --out-dir {params.out_dir}"
        " --device {params.device} --threads {threads} 2> {log}"


rule explore_metrics:
    input:
        [f"results/explore/{a}/{o}/summary.json" for a, o in PAIRS],
    output:
        "results/explore/metrics.csv",
    log:
        "results/logs/explore/metrics.log",
    benchmark:
        "results/benchmarks/explore/metrics.tsv"
    conda:
        ENV
    threads: 1
    shell:
        "python -m latentspin explore-metrics --out {output} {input} > {log} 2>&1"
