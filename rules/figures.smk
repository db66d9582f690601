# Stage 4: the paper's figures (PNG and PDF), the claims table, and what goes in the report.
# Each figure is one rule, so `snakemake --cores all -R <rule>` redraws only it.


# (the paper's figures and claims read the paper's objectives; the rest draw yours too)
GENETIC_FIG4 = [p for p in PAPER_PAIRS if p[0] == "genetic" and p[1] != "C_BC"]
STOCHASTIC_FIG5 = [p for p in PAPER_PAIRS if p[0] == "stochastic" and p[1] != "W"]
# the figures this configuration can draw (Fig. 3 and 4 need their runs in explore.pairs)
FIGURES = ["fig1", "fig5", "convergence", "relaxation"]
if ("single_code", "energy") in PAIRS:
    FIGURES.append("fig3")
if GENETIC_FIG4:
    FIGURES.append("fig4")
# the global searches, whose path through the latent space is probed
SEARCHES = [p for p in PAIRS if p[0] != "single_code"]
if SEARCHES:
    FIGURES.append("paths")
# the stochastic searches whose distribution is sampled at the end of every γ level
LEVELS = [p for p in PAIRS if p[0] == "stochastic"] if config["explore"]["stochastic"]["level_samples"] else []
if LEVELS:
    FIGURES.append("levels")


rule figure_1:
    input:
        train="results/data/train.zarr",
        model=f"results/vae/beta{CHOSEN_BETA}/model.pt",
        code=figure_code("fig1"),
    output:
        **figure_outputs("fig1", "fig1", "Paper figures"),
    log:
        "results/logs/figures/fig1.log",
    benchmark:
        "results/benchmarks/figures/fig1.tsv"
    conda:
        ENV
    threads: 1
    params:
        config=section_json(config, FIGURE_SECTIONS),
    shell:
        "python -m latentspin figure fig1 --config {params.config:q} --train {input.train} --model {input.model}"
        " --out {output.png} --out {output.pdf} 2> {log}"


rule figure_3:
    input:
        train="results/data/train.zarr",
        run=trajectory("single_code", "energy"),
        code=figure_code("fig3"),
    output:
        **figure_outputs("fig3", "fig3", "Paper figures"),
    log:
        "results/logs/figures/fig3.log",
    benchmark:
        "results/benchmarks/figures/fig3.tsv"
    conda:
        ENV
    threads: 1
    params:
        config=section_json(config, FIGURE_SECTIONS),
    shell:
        "python -m latentspin figure fig3 --config {params.config:q} --train {input.train}"
        " --run single_code/energy={input.run} --out {output.png} --out {output.pdf} 2> {log}"


rule figure_4:
    input:
        [trajectory(a, o) for a, o in GENETIC_FIG4],
        code=figure_code("fig4"),
    output:
        **figure_outputs("fig4", "fig4", "Paper figures"),
    log:
        "results/logs/figures/fig4.log",
    benchmark:
        "results/benchmarks/figures/fig4.tsv"
    conda:
        ENV
    threads: 1
    params:
        config=section_json(config, FIGURE_SECTIONS),
        runs=run_args(GENETIC_FIG4),
    shell:
        "python -m latentspin figure fig4 --config {params.config:q} {params.runs}"
        " --out {output.png} --out {output.pdf} 2> {log}"


rule figure_5:
    input:
        "results/data/train.zarr",
        [trajectory(a, o) for a, o in STOCHASTIC_FIG5],
        code=figure_code("fig5"),
    output:
        **figure_outputs("fig5", "fig5", "Paper figures"),
    log:
        "results/logs/figures/fig5.log",
    benchmark:
        "results/benchmarks/figures/fig5.tsv"
    conda:
        ENV
    threads: 1
    params:
        config=section_json(config, FIGURE_SECTIONS),
        runs=run_args(STOCHASTIC_FIG5),
    shell:
        "python -m latentspin figure fig5 --config {params.config:q} --train results/data/train.zarr"
        " {params.runs} --out {output.png} --out {output.pdf} 2> {log}"


rule figure_convergence:
    input:
        [trajectory(a, o) for a, o in PAIRS],
        code=figure_code("convergence"),
    output:
        **figure_outputs("convergence", "convergence", "Beyond the paper"),
    log:
        "results/logs/figures/convergence.log",
    benchmark:
        "results/benchmarks/figures/convergence.tsv"
    conda:
        ENV
    threads: 1
    params:
        config=section_json(config, FIGURE_SECTIONS),
        runs=run_args(PAIRS),
    shell:
        "python -m latentspin figure convergence --config {params.config:q} {params.runs}"
        " --out {output.png} --out {output.pdf} 2> {log}"


rule figure_paths:
    input:
        [trajectory(a, o) for a, o in SEARCHES],
        code=figure_code("paths"),
    output:
        **figure_outputs("paths", "paths", "Beyond the paper"),
    log:
        "results/logs/figures/paths.log",
    benchmark:
        "results/benchmarks/figures/paths.tsv"
    conda:
        ENV
    threads: 1
    params:
        config=section_json(config, FIGURE_SECTIONS),
        runs=run_args(SEARCHES),
    shell:
        "python -m latentspin figure paths --config {params.config:q} {params.runs}"
        " --out {output.png} --out {output.pdf} 2> {log}"


rule figure_levels:
    input:
        [trajectory(a, o) for a, o in LEVELS],
        code=figure_code("levels"),
    output:
        **figure_outputs("levels", "levels", "Beyond the paper"),
    log:
        "results/logs/figures/levels.log",
    benchmark:
        "results/benchmarks/figures/levels.tsv"
    conda:
        ENV
    threads: 1
    params:
        config=section_json(config, FIGURE_SECTIONS),
        runs=run_args(LEVELS),
    shell:
        "python -m latentspin figure levels --config {params.config:q} {params.runs}"
        " --out {output.png} --out {output.pdf} 2> {log}"


rule figure_relaxation:
    input:
        metrics="results/explore/metrics.csv",
        code=figure_code("relaxation"),
    output:
        **figure_outputs("relaxation", "relaxation", "Beyond the paper"),
    log:
        "results/logs/figures/relaxation.log",
    benchmark:
        "results/benchmarks/figures/relaxation.tsv"
    conda:
        ENV
    threads: 1
    params:
        config=section_json(config, FIGURE_SECTIONS),
    shell:
        "python -m latentspin figure relaxation --config {params.config:q} --metrics {input.metrics}"
        " --out {output.png} --out {output.pdf} 2> {log}"


rule claims:
    input:
        train="results/data/train.zarr",
        vae="results/vae/diagnostics.csv",
        runs=[trajectory(a, o) for a, o in PAPER_PAIRS],
        code=figure_code("claims", ["inputs.py"]),
    output:
        report(
            "results/claims.csv",
            caption="../workflow/report/claims.rst",
            category="Claims",
        ),
    log:
        "results/logs/claims.log",
    benchmark:
        "results/benchmarks/claims.tsv"
    conda:
        ENV
    threads: 1
    params:
        config=section_json(config, CLAIMS_SECTIONS),
        runs=run_args(PAPER_PAIRS),
    shell:
        "python -m latentspin claims --config {params.config:q} --train {input.train} --vae {input.vae}"
        " {params.runs} --out {output} > {log} 2>&1"
