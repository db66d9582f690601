# Stage 2: one VAE per beta, and the diagnostics that choose beta.


rule train_vae:
    input:
        train="results/data/train.zarr",
        valid="results/data/valid.zarr",
    output:
        model="results/vae/beta{beta}/model.pt",
        history="results/vae/beta{beta}/history.csv",
    log:
        "results/logs/vae/train_beta{beta}.log",
    benchmark:
        "results/benchmarks/vae/train_beta{beta}.tsv"
    conda:
        ENV
    threads: config["vae"]["threads"]
    resources:
        mem_mb=lambda wc, input: 4000 + 3 * input.size_mb,
        gpu=gpus("vae"),
    params:
        config=section_json(config, TRAIN_SECTIONS),
        device=config["vae"]["device"],
    shell:
        "python -m latentspin train-vae --config {params.config:q} --beta {wildcards.beta}"
        " --train {input.train} --valid {input.valid} --out-dir results/vae/beta{wildcards.beta}"
        " --device {params.device} --threads {threads} 2> {log}"


# vae.pretrained: the chosen beta's model is a shipped file (docs/models.md), checked and put where
# training would have written it; the other betas, if any, are trained.
if PRETRAINED_MODEL:

    localrules:
        install_pretrained_vae,

    ruleorder: install_pretrained_vae > train_vae

    rule install_pretrained_vae:
        input:
            PRETRAINED_MODEL,
        output:
            model=f"results/vae/beta{CHOSEN_BETA}/model.pt",
            history=f"results/vae/beta{CHOSEN_BETA}/history.csv",
        log:
            "results/logs/vae/install_pretrained.log",
        conda:
            ENV
        params:
            config=section_json(config, PRETRAINED_SECTIONS),
            out_dir=lambda wc, output: os.path.dirname(output.model),
        shell:
            "python -m latentspin install-model --config {params.config:q} --model {input}"
            " --out-dir {params.out_dir} 2> {log}"


rule vae_report:
    input:
        models=expand("results/vae/beta{beta}/model.pt", beta=BETAS),
        histories=expand("results/vae/beta{beta}/history.csv", beta=BETAS),
        valid="results/data/valid.zarr",
        code=figure_code("vae", ["style.py", "inputs.py"]),
    output:
        json="results/vae/diagnostics.json",
        table="results/vae/diagnostics.csv",
        figure=report(
            "results/figures/vae_diagnostics.png",
            caption="../workflow/report/vae_diagnostics.rst",
            category="VAE",
        ),
        figure_pdf="results/figures/vae_diagnostics.pdf",
    log:
        "results/logs/vae/report.log",
    benchmark:
        "results/benchmarks/vae/report.tsv"
    conda:
        ENV
    threads: config["vae"]["threads"]
    resources:
        mem_mb=lambda wc, input: 4000 + 2 * input.size_mb,
        gpu=gpus("vae"),
    params:
        config=section_json(config, DIAGNOSE_SECTIONS),
        beta=config["vae"]["beta"],
        device=config["vae"]["device"],
    shell:
        "python -m latentspin vae-report --config {params.config:q} --models {input.models}"
        " --histories {input.histories} --valid {input.valid} --chosen-beta {params.beta}"
        " --json {output.json} --table {output.table} --figure {output.figure} {output.figure_pdf}"
        " --device {params.device} --threads {threads} > {log} 2>&1"


rule vae_figures:
    input:
        model=f"results/vae/beta{CHOSEN_BETA}/model.pt",
        valid="results/data/valid.zarr",
        code=figure_code("vae", ["style.py", "inputs.py"]),
    output:
        reconstruction=report(
            "results/figures/vae_reconstruction.png",
            caption="../workflow/report/vae_reconstruction.rst",
            category="VAE",
        ),
        reconstruction_pdf="results/figures/vae_reconstruction.pdf",
        samples=report(
            "results/figures/vae_samples.png",
            caption="../workflow/report/vae_samples.rst",
            category="VAE",
        ),
        samples_pdf="results/figures/vae_samples.pdf",
    log:
        "results/logs/vae/figures.log",
    benchmark:
        "results/benchmarks/vae/figures.tsv"
    conda:
        ENV
    threads: 1
    shell:
        "python -m latentspin plot-vae --model {input.model} --valid {input.valid}"
        " --reconstruction {output.reconstruction} {output.reconstruction_pdf}"
        " --samples {output.samples} {output.samples_pdf} 2> {log}"
