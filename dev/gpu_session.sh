#!/usr/bin/env bash
# Issue 6's GPU measurements on a GPU machine that has Python with a CUDA build of torch (and
# numpy, numba, pandas, xarray, seaborn, scipy, pytest) but no package index: the rest comes as
# wheels in .whl/, made beforehand on a machine with internet by
#     python dev/wheelhouse.py .whl --python 3.12 --have <the GPU machine's package list>
# Each step fits in one call of a 10-minute limit; results/ stays between calls on the same
# machine, and what is worth keeping is written under $OUT (default: results/gpu-session).
# A session lent 15 minutes of device time in all gets one full call: `session`.
#
#   dev/gpu_session.sh session SECONDS  what a 15-minute session should run, in one call: the CUDA tests
#                                      in the background while the paper DAG makes the vae.beta decoder
#                                      (brought back in 15 MiB parts, `cat model.pt.part-* > model.pt`),
#                                      then the benchmarks of every stage with the GPU alone (the last
#                                      BENCH_SECONDS, default 200); a DAG that fails ends the call at once
#   dev/gpu_session.sh tests           the CUDA tests (GPU against CPU; a few minutes: they compile)
#   dev/gpu_session.sh bench           the benchmark table of every stage, and its CSV (about 5 min)
#   dev/gpu_session.sh paper SECONDS [TARGET...]
#                                      the paper DAG on this GPU ($PRESET, default presets/gpu.yaml) for at
#                                      most SECONDS, the TARGETs (and what they need) alone first, then a
#                                      tarball of timings, logs, tables, figures (and paths.png and fig5.png
#                                      of the searches that finished, where the DAG did not draw them), the
#                                      explored model in 15 MiB parts and the stochastic Mz search's
#                                      checkpoint if it did not finish;
#                                      run it again to go on where it stopped (searches resume from their
#                                      checkpoints, saved every minute here, and training too)
#   dev/gpu_session.sh search SECONDS MODEL [CHECKPOINT]
#                                      on a fresh machine, without the data: the stochastic Mz search of
#                                      MODEL (e.g. the parts brought back, concatenated, and carried),
#                                      resumed from CHECKPOINT where given, for at most SECONDS; brings
#                                      back its summary and trajectory, or its new checkpoint
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-results/gpu-session}
PRESET=${PRESET:-presets/gpu.yaml}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
# searches and training save their state every minute (default 5), so that a stopped call loses little
export LATENTSPIN_CHECKPOINT_SECONDS=${LATENTSPIN_CHECKPOINT_SECONDS:-60}

PY=$(command -v python3)
if [ ! -d /tmp/site ] && compgen -G ".whl/*.whl" >/dev/null; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl
fi
export PYTHONPATH=/tmp/site:$PWD/workflow${PYTHONPATH:+:$PYTHONPATH}
# the rules call `python`; some images have only python3
if ! command -v python >/dev/null; then
    mkdir -p /tmp/gpu-bin && printf '#!/bin/sh\nexec "%s" "$@"\n' "$PY" >/tmp/gpu-bin/python
    chmod +x /tmp/gpu-bin/python
    export PATH=/tmp/gpu-bin:$PATH
fi
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || echo "no nvidia-smi"; } \
    | tee "$OUT/gpu.txt"
python -c "import sys, torch, numba, numpy, xarray, snakemake, zarr; print('python', sys.version.split()[0], \
'torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'numba', numba.__version__, 'numpy', numpy.__version__, \
'xarray', xarray.__version__, 'snakemake', snakemake.__version__, 'zarr', zarr.__version__)" | tee -a "$OUT/gpu.txt"

# the stochastic Mz search's checkpoint, where it has not finished (a file of its own: the tarball
# must stay under the 16 MiB a file from $OUT may have)
bring_back_checkpoint() {
    local ck=results/explore/stochastic/Mz/checkpoint.pt
    if [ -f "$ck" ] && [ "$(stat -c %s "$ck")" -le $((15 * 1024 * 1024)) ]; then
        cp "$ck" "$OUT/stochastic_Mz_checkpoint.pt"
    fi
}

mode=${1:-}
case "$mode" in
search)
    seconds=${2:?search needs the seconds it may run}
    model=${3:?search needs a model.pt}
    dir=results/explore/stochastic/Mz
    mkdir -p "$dir" results/logs/explore
    if [ -n "${4:-}" ]; then cp "$4" "$dir/checkpoint.pt"; fi
    set +e
    timeout -s INT -k 30 $((seconds - 30)) python -m latentspin explore --config config.yaml --config "$PRESET" \
        --algorithm stochastic --objective Mz --model "$model" --out-dir "$dir" --device auto \
        --threads "$(nproc)" 2>&1 | tr '\r' '\n' | grep -v '^$' > "$OUT/search.log"
    set -e
    tail -n 5 "$OUT/search.log"
    if [ -f "$dir/summary.json" ]; then
        cp "$dir/summary.json" "$OUT/stochastic_Mz_summary.json"
        tar -czf "$OUT/stochastic_Mz_trajectory.tar.gz" -C "$dir" trajectory.zarr
    fi
    bring_back_checkpoint
    ls -la "$OUT"
    ;;
tests)
    python -m pytest -q -p no:cacheprovider --durations=10 tests/test_cuda.py tests/physics/test_observables.py \
        -k "cuda or test_cuda" 2>&1 | tee "$OUT/tests.log" || true
    ;;
bench)
    python -m latentspin bench all --device cuda --csv "$OUT/bench.csv" 2>&1 | tee "$OUT/bench.txt"
    ;;
session)
    # One call of a 15-minute lease (issue 31): the CUDA tests in the background, the paper DAG to
    # the beta = 0.001 decoder in the foreground, then the benchmarks with the GPU alone. A DAG that
    # fails (not one stopped at its time) ends the call at once, so that a retry has time left.
    seconds=${2:?session needs the seconds it may run}
    deadline=$(( $(date +%s) + seconds ))
    bench_reserve=${BENCH_SECONDS:-200}
    beta=$(python -c "import yaml; print(repr(float(yaml.safe_load(open('config.yaml'))['vae']['beta'])))")
    model=results/vae/beta$beta/model.pt
    left() { echo $(( deadline - $(date +%s) - ${1:-0} )); }
    nice -n 5 timeout -k 10 330 python -m pytest -q -p no:cacheprovider -rs --durations=15 tests/test_cuda.py \
        >"$OUT/tests.log" 2>&1 &
    tests_pid=$!
    t0=$(date +%s)
    echo "== snakemake $model for at most $(left "$bench_reserve") s" | tee -a "$OUT/paper.log"
    set +e
    timeout -s INT -k 30 "$(left "$bench_reserve")" python -m snakemake --cores all --configfile "$PRESET" \
        --rerun-incomplete --printshellcmds "$model" >>"$OUT/paper.log" 2>&1
    status=$?
    set -e
    echo "snakemake exit status $status after $(( $(date +%s) - t0 )) s (124: stopped at its time)" \
        | tee -a "$OUT/paper.log"
    pack() {
        tar -czf "$OUT/results.tar.gz" --ignore-failed-read results/benchmarks results/logs \
            "results/vae/beta$beta/history.csv" 2>/dev/null || true
    }
    if [ -f "$model" ]; then
        split -b 15M "$model" "$OUT/model.pt.part-"
        sha256sum "$model" | tee -a "$OUT/paper.log"
    elif [ "$status" -ne 124 ]; then
        kill "$tests_pid" 2>/dev/null || true
        tail -n 40 "$OUT/paper.log"; pack; ls -la "$OUT"; exit 1
    fi
    # the benchmarks want the GPU alone
    if kill -0 "$tests_pid" 2>/dev/null; then
        echo "tests still running at the benchmarks: stopped" | tee -a "$OUT/tests.log"
        kill "$tests_pid" 2>/dev/null || true
    fi
    wait "$tests_pid" 2>/dev/null || true
    tail -n 25 "$OUT/tests.log"
    bench() {  # one benchmark, within the time left
        local t
        t=$(left 15)
        if [ "$t" -le 5 ]; then echo "no time left for bench $*" | tee -a "$OUT/bench.txt"; return; fi
        echo "== bench $* (at most $t s)" | tee -a "$OUT/bench.txt"
        timeout -k 5 "$t" python -m latentspin bench "$@" --device "${BENCH_DEVICE:-cuda}" 2>&1 \
            | tr '\r' '\n' >>"$OUT/bench.txt" || echo "(stopped: exit status $?)" >>"$OUT/bench.txt"
    }
    bench anneal --L 128 --batch 1024 --sweeps 20 --seconds 1 --threads 16
    bench vae --L 128 --batch 100 --seconds 1
    bench explore --L 128 --seconds 1
    bench anneal --L 64 --batch 4096 --sweeps 20 --seconds 1 --threads 16
    bench anneal --L 256 --batch 256 --sweeps 20 --seconds 1 --threads 16
    cat "$OUT/bench.txt"
    pack
    ls -la "$OUT"
    ;;
paper)
    seconds=${2:?$1 needs the seconds it may run}
    deadline=$(( $(date +%s) + seconds ))
    shift 2
    run_dag() {  # snakemake on the given targets (none: the whole DAG) until the deadline
        local left=$(( deadline - $(date +%s) - 40 ))  # 40 s kept for the figures and the tarball
        if [ "$left" -le 0 ]; then echo "no time left for snakemake ${*:-(the whole DAG)}"; return 124; fi
        echo "== snakemake ${*:-(the whole DAG)} for at most $left s" | tee -a "$OUT/paper.log"
        timeout -s INT -k 30 "$left" python -m snakemake --cores all --configfile "$PRESET" \
            --rerun-incomplete --printshellcmds "$@" >>"$OUT/paper.log" 2>&1
        local status=$?
        echo "snakemake exit status $status (124: stopped at the limit)" | tee -a "$OUT/paper.log"
        return "$status"
    }
    set +e
    if [ $# -eq 0 ] || run_dag "$@"; then run_dag; fi
    set -e
    grep -E "^(rule |Finished|[0-9]+ of [0-9]+ steps)" "$OUT/paper.log" | tail -n 30
    # the searches that finished, drawn where the DAG has not drawn them yet
    runs=$(for t in results/explore/{genetic,stochastic}/*/trajectory.zarr; do
        if [ -d "$t" ]; then d=${t%/trajectory.zarr}; echo "--run ${d#results/explore/}=$t"; fi; done)
    if [ -n "$runs" ] && [ ! -f results/figures/paths.png ]; then
        mkdir -p results/gpu-figures
        # shellcheck disable=SC2086
        python -m latentspin figure paths --config config.yaml --config "$PRESET" $runs \
            --out results/gpu-figures/paths.png || true
        if [ -d results/data/train.zarr ]; then
            # shellcheck disable=SC2086
            python -m latentspin figure fig5 --config config.yaml --config "$PRESET" --train results/data/train.zarr \
                $runs --out results/gpu-figures/fig5.png || true
        fi
    fi
    tar -czf "$OUT/paper-results.tar.gz" --ignore-failed-read --exclude="*.pdf" results/benchmarks results/logs \
        results/data/*_summary.json results/vae/diagnostics.csv results/vae/beta*/history.csv \
        results/explore/metrics.csv results/explore/*/*/summary.json results/claims.csv results/figures \
        results/gpu-figures 2>/dev/null || true
    bring_back_checkpoint
    # the explored model, for the decoder's analysis on a CPU (`cat model.pt.part-* > model.pt`), in
    # parts that fit what comes back from $OUT (16 MiB a file; the paper's model is about 34 MiB)
    beta=$(python -c "import yaml; print(repr(float(yaml.safe_load(open('config.yaml'))['vae']['beta'])))")
    if [ -f "results/vae/beta$beta/model.pt" ]; then
        split -b 15M "results/vae/beta$beta/model.pt" "$OUT/model.pt.part-"
    fi
    ls -la "$OUT"
    ;;
*)
    echo "usage: dev/gpu_session.sh session SECONDS | tests | bench | paper SECONDS [TARGET...] |" \
        "search SECONDS MODEL [CHECKPOINT]" >&2
    exit 2
    ;;
esac
