"""The SLURM profile against a real SLURM: the smoke DAG (one β, two searches) submitted through
``--profile profiles/slurm`` to a single-node cluster this module starts (tests/slurm_cluster.py),
its outputs compared with a local run's, and a job killed mid-run with scancel.

Skips, naming the missing Debian packages, where SLURM is not installed; .ci/run installs them.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from conftest import run_snakemake
from latentspin.core import stores
from slurm_cluster import Cluster, memory_mb, missing_packages

pytestmark = pytest.mark.slow

MISSING = missing_packages()
if MISSING:
    pytest.skip(f"the SLURM test needs the Debian packages {' '.join(MISSING)} "
                f"(apt-get install {' '.join(MISSING)}; .ci/run does this)", allow_module_level=True)

# Status checks from the first second and every 2 s: the defaults (40 s, then every 10 s) suit a
# busy production cluster, not a test whose DAG waits for each level's jobs. The profile is
# otherwise used as it is.
FAST = ("--slurm-init-seconds-before-status-checks", "1", "--seconds-between-status-checks", "2")
# The smoke DAG with one β and two searches, a job of every rule but fewer of each (the local run's
# other models and searches would add minutes and nothing the profile treats differently)
SUBSET = {"vae": {"betas": [0.001]}, "explore": {"pairs": {"single_code": [], "genetic": ["W"], "stochastic": ["Mz"]}}}
PAIRS = [("genetic", "W"), ("stochastic", "Mz")]
LOCAL_RULES = {"all", "data_figure", "vae_figures", "explore_metrics", "claims", "figure_1", "figure_4", "figure_5",
               "figure_convergence", "figure_paths", "figure_levels", "figure_relaxation"}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    start = time.perf_counter()
    c = Cluster(tmp_path_factory.mktemp("slurm"), os.cpu_count() or 1, memory_mb() - 1024).start()
    c.setup_seconds = time.perf_counter() - start
    yield c
    c.stop()
    alive = [name for name, p in c.procs.items() if p.poll() is None]
    assert not alive, f"daemons still running after stop: {alive}"


def _ctrl_c_reaches_it():
    """A shell without job control starts background commands (`cmd &`, as scripts run CI) with
    SIGINT ignored, and the ignore is inherited across exec: Snakemake would then never see the
    Ctrl-C that the tests send. Give the child the default disposition, as a terminal does."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def slurm_snakemake(root, cluster, workdir, *args, configfiles=()):
    """Snakemake through the SLURM profile, started in a process group of its own."""
    cmd = [sys.executable, "-m", "snakemake", *args, "--profile", str(root / "profiles" / "slurm"),
           "-s", str(root / "Snakefile"), "--directory", str(workdir), *FAST,
           "--configfile", str(root / "presets" / "smoke.yaml"), *map(str, configfiles)]
    return subprocess.Popen(cmd, env=cluster.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, preexec_fn=_ctrl_c_reaches_it)


def finish(p, timeout: float) -> str:
    """Snakemake's output once it exits; past `timeout` it is killed (with its group) and the
    test fails rather than hangs."""
    try:
        return p.communicate(timeout=timeout)[0]
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        log = p.communicate()[0]
        pytest.fail(f"snakemake still running after {timeout} s:\n{log[-3000:]}")


def submitted_ids(log: str) -> list[str]:
    return re.findall(r"submitted with SLURM jobid (\d+)", log)


def sacct_states(cluster, ids) -> dict[str, str]:
    out = cluster.run("sacct", "-X", "-n", "-P", "-o", "JobIDRaw,State", "-j", ",".join(ids)).stdout
    return dict(line.split("|", 1) for line in out.splitlines() if line)


def assert_same_outputs(local, remote):
    """Bit for bit: the data, both searches' trajectories and the model; the VAE table's row of
    its β; the metrics table but for its timings."""
    paths = ["results/data/train.zarr", "results/data/valid.zarr"]
    paths += [f"results/explore/{a}/{o}/trajectory.zarr" for a, o in PAIRS]
    for store in paths:
        a, b = stores.open_dataset(local / store), stores.open_dataset(remote / store)
        assert set(a.data_vars) == set(b.data_vars), store
        for v in a.data_vars:
            np.testing.assert_array_equal(a[v].values, b[v].values, err_msg=f"{store}: {v}")
    model = "results/vae/beta0.001/model.pt"
    assert (local / model).read_bytes() == (remote / model).read_bytes()
    table = "results/vae/diagnostics.csv"
    a, b = pd.read_csv(local / table), pd.read_csv(remote / table)
    pd.testing.assert_frame_equal(a[a["beta"] == 0.001].reset_index(drop=True), b, obj=table)
    key = ["algorithm", "objective"]
    a = pd.read_csv(local / "results/explore/metrics.csv").set_index(key)
    b = pd.read_csv(remote / "results/explore/metrics.csv").set_index(key)
    timings = ["seconds", "decodes_per_s"]
    pd.testing.assert_frame_equal(a.loc[b.index].drop(columns=timings), b.drop(columns=timings))


def test_smoke_dag_through_the_slurm_profile_matches_a_local_run(smoke, cluster, root, tmp_path, capsys):
    local = smoke
    (tmp_path / "subset.yaml").write_text(yaml.safe_dump(SUBSET))
    start = time.perf_counter()
    p = slurm_snakemake(root, cluster, tmp_path, configfiles=[tmp_path / "subset.yaml"])
    log = finish(p, 900)
    seconds = time.perf_counter() - start
    assert p.returncode == 0, log[-3000:]

    ids = submitted_ids(log)
    steps = int(re.search(r"(\d+) of \1 steps \(100%\) done", log).group(1))
    local_jobs = re.findall(r"^localrule (\w+):", log, re.MULTILINE)
    # the jobs of seconds (figures, tables; the Snakefile's localrules) ran beside Snakemake,
    # every other job went through sbatch
    assert set(local_jobs) == LOCAL_RULES and len(local_jobs) == len(LOCAL_RULES)
    assert len(ids) == steps - len(local_jobs) == 11
    assert set(sacct_states(cluster, ids).values()) == {"COMPLETED"}
    controller = cluster.controller_log.read_text()
    assert all(f"JobId={i} " in controller for i in ids)
    assert_same_outputs(local, tmp_path)
    with capsys.disabled():
        print(f"\nSLURM: cluster up in {cluster.setup_seconds:.1f} s; smoke DAG {seconds:.0f} s, "
              f"{len(ids)} SLURM jobs and {len(local_jobs)} local ones, all COMPLETED in sacct; outputs equal the local run's")


def _start_a_long_job(root, cluster, workdir, *extra):
    """Anneals one shard for far longer than the test waits; returns snakemake and the running
    SLURM job id."""
    (workdir / "long.yaml").write_text("anneal: {sweeps: 5000000}\n")
    p = slurm_snakemake(root, cluster, workdir, "results/data/shards/valid/0.zarr", *extra,
                        configfiles=[workdir / "long.yaml"])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        running = cluster.run("squeue", "-h", "-t", "R", "-o", "%i").stdout.split()
        if running:
            time.sleep(3)  # inside the annealing, mid-run
            return p, running[0]
        time.sleep(0.5)
    os.killpg(p.pid, signal.SIGKILL)
    pytest.fail(f"no job running within 60 s:\n{p.communicate()[0][-2000:]}")


def _assert_rerun_plans_the_job(root, cluster, workdir):
    out = workdir / "results/data/shards/valid/0.zarr"
    assert not out.exists()  # nothing, not a partial store
    dry, _ = run_snakemake(root, workdir, "results/data/shards/valid/0.zarr", extra=("-n",),
                           configfiles=[workdir / "long.yaml"], env=cluster.env, timeout=120)
    assert re.search(r"anneal_shard\s+1", dry.stdout), dry.stdout[-2000:]


def test_a_job_cancelled_mid_run_leaves_nothing_a_rerun_would_take_for_complete(cluster, root, tmp_path):
    """scancel, then the user stops Snakemake (Ctrl-C) as docs/running.md ("Clusters") says: no output, and a rerun
    plans the job again."""
    p, job = _start_a_long_job(root, cluster, tmp_path)
    cluster.run("scancel", job)
    deadline = time.monotonic() + 60
    while not sacct_states(cluster, [job]).get(job, "").startswith("CANCELLED"):
        assert time.monotonic() < deadline, "sacct never showed the job cancelled"
        time.sleep(0.5)
    os.killpg(p.pid, signal.SIGINT)
    finish(p, 120)
    _assert_rerun_plans_the_job(root, cluster, tmp_path)


def test_with_squeue_status_snakemake_sees_the_cancellation_itself(cluster, root, tmp_path):
    """The remedy in docs/running.md ("Clusters") for the plugin not recognizing sacct's 'CANCELLED by <uid>': with
    squeue status queries Snakemake reports the cancelled job as failed and exits."""
    p, job = _start_a_long_job(root, cluster, tmp_path, "--slurm-status-command", "squeue")
    cluster.run("scancel", job)
    log = finish(p, 180)
    assert p.returncode != 0 and f"SLURM-job '{job}' failed" in log and "CANCELLED" in log, log[-2000:]
    _assert_rerun_plans_the_job(root, cluster, tmp_path)


def test_a_cuda_config_asks_slurm_for_a_gpu(smoke, cluster, root, tmp_path):
    """vae.device: cuda makes the training job request one GPU (--gpus=1), and SLURM allocates
    the node's GPU to it. On this GPU-less test node the job then fails with latentspin's own
    error, before any training; on a node with CUDA it would train."""
    local = smoke
    shutil.copytree(local / "results" / "data", tmp_path / "results" / "data")
    (tmp_path / "cuda.yaml").write_text("vae: {device: cuda}\n")
    p = slurm_snakemake(root, cluster, tmp_path, "results/vae/beta0.001/model.pt", configfiles=[tmp_path / "cuda.yaml"])
    log = finish(p, 180)
    (job,) = submitted_ids(log)  # the training job alone: the data were there
    tres = cluster.run("sacct", "-X", "-n", "-P", "-o", "AllocTRES", "-j", job).stdout
    assert "gres/gpu=1" in tres, tres
    if torch.cuda.is_available():
        assert p.returncode == 0, log[-2000:]
    else:
        assert p.returncode != 0
        assert "CUDA" in (tmp_path / "results/logs/vae/train_beta0.001.log").read_text()
