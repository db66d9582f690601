# Beyond the paper, off by default (explore.retrain.rounds: 0): rounds of search, relax, retrain,
# search again. One decoder per objective; round r's decoder is round r - 1's fine-tuned on the data
# and what round r - 1's searches of that objective found (round 0: the plain run, results/explore/).
# Rounds are wildcards: each round's jobs can be rerun alone, and a cluster runs them as jobs.


rule retrain_decoder:
    input:
        unpack(lambda wc: {f"run_{a}": p for a, p in previous_runs(wc).items()}),
        model=lambda wc: round_model(wc.objective, int(wc.round) - 1),
        train="results/data/train.zarr",
        valid="results/data/valid.zarr",
        objective=objective_module,
    output:
        model="results/retrain/{objective}/round{round}/model.pt",
        history="results/retrain/{objective}/round{round}/history.csv",
        pool="results/retrain/{objective}/round{round}/pool.json",
    log:
        "results/logs/retrain/{objective}_round{round}.log",
    benchmark:
        "results/benchmarks/retrain/{objective}_round{round}.tsv"
    conda:
        ENV
    threads: config["vae"]["threads"]
    resources:
        gpu=gpus("vae"),
    params:
        config=lambda wc: retrain_job_json(config, wc.objective),
        runs=lambda wc: run_args([(a, wc.objective) for a in searches_of(wc.objective)], int(wc.round) - 1),
        device=config["vae"]["device"],
    shell:
        "python -m latentspin retrain --config {params.config:q} --objective {wildcards.objective}"
        " --round {wildcards.round} --model {input.model} --train {input.train} --valid {input.valid}"
        " {params.runs} --out-dir results/retrain/{wildcards.objective}/round{wildcards.round}"
        " --device {params.device} --threads {threads} 2> {log}"


# A round's search: the explore job's command with the round's decoder.
use rule explore as explore_round with:
    input:
        model="results/retrain/{objective}/round{round}/model.pt",
        objective=objective_module,
    output:
        trajectory=directory("results/retrain/{objective}/round{round}/{algorithm}/trajectory.zarr"),
        summary="results/retrain/{objective}/round{round}/{algorithm}/summary.json",
    log:
        "results/logs/retrain/{objective}_round{round}_{algorithm}.log",
    benchmark:
        "results/benchmarks/retrain/{objective}_round{round}_{algorithm}.tsv"


# Every pair's row in every round: results/retrain/metrics.csv (a round column), beside each
# decoder's pool and its validation L_RC of the original data.
rule retrain_metrics:
    input:
        summaries=[round_summary(a, o, r) for r in range(RETRAIN_ROUNDS + 1) for a, o in RETRAIN_PAIRS],
        pools=[f"{round_dir(o, r)}/pool.json" for r in range(1, RETRAIN_ROUNDS + 1) for o in
               sorted({o for _, o in RETRAIN_PAIRS})],
    output:
        "results/retrain/metrics.csv",
    log:
        "results/logs/retrain/metrics.log",
    conda:
        ENV
    threads: 1
    shell:
        "python -m latentspin retrain-metrics --out {output} --summaries {input.summaries}"
        " --pools {input.pools} > {log} 2>&1"


# Across the rounds: the figure that shows whether the loop helps (objective, defects, amplitude,
# latent radius of the final states; the guards: validation L_RC, diversity; each final state).
rule figure_rounds:
    input:
        metrics="results/retrain/metrics.csv",
        code=figure_code("rounds"),
    output:
        **figure_outputs("rounds", "rounds", "Beyond the paper"),
    log:
        "results/logs/figures/rounds.log",
    benchmark:
        "results/benchmarks/figures/rounds.tsv"
    conda:
        ENV
    threads: 1
    params:
        config=section_json(config, FIGURE_SECTIONS + ("claims.paper_peak",)),
    shell:
        "python -m latentspin figure rounds --config {params.config:q} --metrics {input.metrics}"
        " --out {output.png} --out {output.pdf} 2> {log}"


# Each round's own claims table and search paths, as a plain run's (round 0: results/claims.csv and
# results/figures/paths.png): the claims of the pairs the round repeats; the rest read "not run".
use rule claims as claims_round with:
    input:
        train="results/data/train.zarr",
        vae="results/vae/diagnostics.csv",
        runs=lambda wc: [round_trajectory(a, o, wc.round) for a, o in RETRAIN_PAPER_PAIRS],
        code=figure_code("claims", ["inputs.py"]),
    output:
        "results/retrain/round{round}/claims.csv",
    log:
        "results/logs/retrain/claims_round{round}.log",
    benchmark:
        "results/benchmarks/retrain/claims_round{round}.tsv"
    params:
        config=section_json(config, CLAIMS_SECTIONS),
        runs=lambda wc: run_args(RETRAIN_PAPER_PAIRS, wc.round) + " --pairs-key explore.retrain.pairs",


use rule figure_paths as paths_round with:
    input:
        lambda wc: [round_trajectory(a, o, wc.round) for a, o in RETRAIN_SEARCHES],
        code=figure_code("paths"),
    output:
        png="results/retrain/round{round}/paths.png",
        pdf="results/retrain/round{round}/paths.pdf",
    log:
        "results/logs/retrain/paths_round{round}.log",
    benchmark:
        "results/benchmarks/retrain/paths_round{round}.tsv"
    params:
        config=section_json(config, FIGURE_SECTIONS),
        runs=lambda wc: run_args(RETRAIN_SEARCHES, wc.round),
