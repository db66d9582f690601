# Stage 1: annealed spin configurations (heat-bath Monte Carlo), one job per shard; or a split
# imported from a folder of OVF files (data.{split}.ovf).


rule anneal_shard:
    output:
        directory("results/data/shards/{split}/{shard}.zarr"),
    log:
        "results/logs/anneal/{split}/{shard}.log",
    benchmark:
        "results/benchmarks/anneal/{split}/{shard}.tsv"
    # everything downstream waits for the data: schedule shards before summaries and figures
    priority: 10
    conda:
        ENV
    threads: config["anneal"]["threads"]
    resources:
        mem_mb=lambda wc, threads: 1000 + 100 * threads,
        gpu=gpus("anneal"),
    params:
        config=anneal_json(config),
        device=config["anneal"]["device"],
    shell:
        "python -m latentspin anneal --config {params.config:q} --split {wildcards.split} --shard {wildcards.shard}"
        " --device {params.device} --threads {threads} --out {output} 2> {log}"


rule assemble_split:
    input:
        lambda wc: shard_paths(wc.split),
    output:
        directory("results/data/{split}.zarr"),
    wildcard_constraints:
        split=split_pattern(ANNEALED_SPLITS),
    log:
        "results/logs/assemble/{split}.log",
    benchmark:
        "results/benchmarks/assemble/{split}.tsv"
    priority: 10
    conda:
        ENV
    threads: 1
    shell:
        "python -m latentspin assemble --out {output} {input} 2> {log}"


# A split with data.{split}.ovf set: its OVF files instead of the annealing (docs/ovf.md).
rule import_split:
    input:
        lambda wc: OVF_INPUTS[wc.split],
    output:
        directory("results/data/{split}.zarr"),
    wildcard_constraints:
        split=split_pattern(IMPORTED_SPLITS),
    log:
        "results/logs/import/{split}.log",
    benchmark:
        "results/benchmarks/import/{split}.tsv"
    priority: 10
    conda:
        ENV
    threads: 1
    params:
        config=section_json(config, IMPORT_SECTIONS),
        folder=lambda wc: config["data"][wc.split]["ovf"],
    shell:
        "python -m latentspin import-ovf {params.folder:q} --config {params.config:q} --split {wildcards.split}"
        " --out {output} 2> {log}"


rule summarize_split:
    input:
        "results/data/{split}.zarr",
    output:
        "results/data/{split}_summary.json",
    log:
        "results/logs/summarize/{split}.log",
    benchmark:
        "results/benchmarks/summarize/{split}.tsv"
    conda:
        ENV
    threads: 1
    shell:
        "python -m latentspin summarize {input} --out {output} > {log} 2>&1"


rule data_figure:
    input:
        train="results/data/train.zarr",
        code=figure_code("data_samples", ["style.py", "inputs.py"]),
    output:
        **figure_outputs("data_samples", "data_samples", "Data"),
    log:
        "results/logs/figures/data_samples.log",
    benchmark:
        "results/benchmarks/figures/data_samples.tsv"
    conda:
        ENV
    threads: 1
    shell:
        "python -m latentspin plot-samples {input.train} --out {output.png} {output.pdf} --n 12 2> {log}"
