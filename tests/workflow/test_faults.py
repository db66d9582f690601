"""Faults through real Snakemake at the smoke preset: a NaN in the training data and a model file
cut short each stop their job with a one-line message, nothing downstream runs, and once the file
is restored the same command again (up to the stage's own table) completes with outputs equal to a
clean run's. (The same command: Snakemake removes a failed job's outputs, and a plain rerun, which
finds everything downstream of them complete, would not make them anew.) Besides: a second run in
the same directory is refused, and a search stopped while Snakemake removes its job's folder still
saves its checkpoint."""

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
import zarr
from conftest import run_snakemake

pytestmark = pytest.mark.slow

RULE_LOGS = "results/logs"


def _compare():
    spec = importlib.util.spec_from_file_location("compare_runs", Path(__file__).parents[2]
                                                  / "dev" / "compare_runs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.compare


def snakemake(checkout, workdir, *targets, forcerun):
    """A smoke run that may fail (the faults below make it); its process."""
    return run_snakemake(checkout, workdir, *targets, extra=("--forcerun", forcerun), timeout=900, check=False)[0]


@pytest.fixture
def copy_of_smoke(smoke_paper_pairs, tmp_path):
    """The smoke run of the paper's pairs, copied with its times and Snakemake's records, to be
    damaged; and the clean run to compare with."""
    copy = tmp_path / "run"
    shutil.copytree(smoke_paper_pairs, copy, symlinks=True)
    return smoke_paper_pairs, copy


def _outputs(workdir, parts):
    """The files under (or at) each part, with their modification times."""
    files = [q for part in parts for q in ([workdir / part] if (workdir / part).is_file()
                                           else (workdir / part).rglob("*")) if q.is_file()]
    return {q: q.stat().st_mtime_ns for q in files}


def _last_error(log):
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def test_a_nan_in_the_training_data_stops_training_and_nothing_after_it(copy_of_smoke, checkout):
    clean, run = copy_of_smoke
    store = run / "results/data/train.zarr"
    backup = run.parent / "train.zarr.backup"
    shutil.copytree(store, backup)
    spins = zarr.open_array(store / "spins", mode="r+")
    spins[5, 1, 3, 3] = np.nan
    downstream = _outputs(run, ["results/explore", "results/figures", "results/claims.csv"])

    r = snakemake(checkout, run, forcerun="train_vae")
    assert r.returncode != 0
    logs = sorted((run / RULE_LOGS / "vae").glob("train_beta*.log"))
    failed = [log for log in logs if "latentspin: error:" in log.read_text()]
    assert failed, "no training job reported the bad store"
    for log in failed:
        message = _last_error(log)
        assert message.startswith("latentspin: error: results/data/train.zarr: ")  # as the job names it
        assert "sample 5: the spin at (y, x) = (3, 3) is not finite" in message
        assert "Traceback" not in log.read_text()
    assert _outputs(run, ["results/explore", "results/figures", "results/claims.csv"]) == downstream

    shutil.rmtree(store)
    shutil.copytree(backup, store)
    # the same command again, as far as the models and their table: they come out bitwise as the
    # clean run's (what reads them is deterministic, tested with the searches)
    r = snakemake(checkout, run, "results/vae/diagnostics.csv", forcerun="train_vae")
    assert r.returncode == 0, r.stderr[-3000:]
    assert _compare()(clean / "results", run / "results") == []


def test_a_model_cut_short_stops_the_searches_and_nothing_after_them(copy_of_smoke, checkout):
    clean, run = copy_of_smoke
    model = run / "results/vae/beta0.001/model.pt"
    whole = model.read_bytes()
    model.write_bytes(whole[: len(whole) // 3])
    # what only the searches feed (the model's other readers, the VAE figures and Fig. 1, fail alike)
    after_searches = ["results/explore/metrics.csv", "results/claims.csv"] + [
        f"results/figures/{name}.{ext}" for name in ("fig3", "fig4", "fig5", "convergence", "paths", "levels",
                                                     "relaxation") for ext in ("png", "pdf")]
    downstream = _outputs(run, after_searches)

    r = snakemake(checkout, run, forcerun="explore")
    assert r.returncode != 0
    failed = [log for log in (run / RULE_LOGS / "explore").glob("*.log") if "latentspin: error:" in log.read_text()]
    assert failed, "no search reported the damaged model"
    for log in failed:
        message = _last_error(log)
        named = "results/vae/beta0.001/model.pt"  # as the job names it
        assert message.startswith(f"latentspin: error: {named}: not a readable model file")
        assert f"--force {named}" in message and "Traceback" not in log.read_text()
    assert _outputs(run, after_searches) == downstream

    model.write_bytes(whole)
    # the same command again, as far as the tables of the model's readers: the searches' and the
    # VAE diagnostics' (which failed alike, and whose table Snakemake removed; the figures and the
    # claims read these alone)
    r = snakemake(checkout, run, "results/explore/metrics.csv", "results/vae/diagnostics.csv", forcerun="explore")
    assert r.returncode == 0, r.stderr[-3000:]
    assert _compare()(clean / "results", run / "results") == []


def test_a_second_run_in_the_same_directory_is_refused_while_the_first_runs(checkout, tmp_path):
    """Snakemake's lock: two runs would write the same outputs; the second stops at once, naming
    the lock, and the first completes untouched."""
    target = "results/data/shards/valid/0.zarr"
    cmd = [sys.executable, "-m", "snakemake", target, "-s", str(checkout / "Snakefile"), "--directory",
           str(tmp_path), "--cores", "1", "--configfile", str(checkout / "presets" / "smoke.yaml")]
    first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    locks = tmp_path / ".snakemake" / "locks"
    deadline = time.monotonic() + 120
    while not (locks.exists() and any(locks.iterdir())) and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert first.poll() is None, "the first run ended before the second could start"
    second = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert second.returncode != 0 and "cannot be locked" in second.stderr
    out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err[-2000:]
    assert (tmp_path / target).is_dir()


def _processes(cwd, *words):
    """{pid: its command name} of the processes working in `cwd` whose command line holds every one
    of `words` (a run of the same search elsewhere on the machine is not touched)."""
    found = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            name = (proc / "comm").read_text().strip()
            here = os.readlink(proc / "cwd") == str(cwd)
        except OSError:
            continue  # ended meanwhile, or another user's
        if here and all(w in cmdline for w in words):
            found[int(proc.name)] = name
    return found


def _wait(condition, seconds, what):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"waited {seconds} s for {what}"
        time.sleep(0.2)


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads the processes from /proc (Linux)")
def test_a_search_whose_job_shell_is_killed_first_still_saves_its_checkpoint(copy_of_smoke, checkout, tmp_path):
    """SIGTERM to every process of a job (SLURM's time limit, `pkill -f`) ends the job's shell at
    once: Snakemake takes the job for failed and removes its incomplete output with every empty
    folder above it, while the search, on the same signal, is still saving its state into one of
    those folders. The order made deterministic here (the shell, Snakemake's removal, then the
    search): the state is saved all the same, and the stop says where."""
    _, run = copy_of_smoke
    run = run.resolve()  # as /proc gives the jobs' working directory
    out_dir = "results/explore/genetic/energy"
    job_words = ("latentspin explore", f"--out-dir {out_dir}")
    log = run / RULE_LOGS / "explore" / "genetic_energy.log"
    shutil.rmtree(run / out_dir)
    log.unlink()
    endless = tmp_path / "endless.yaml"  # a search that runs until it is stopped
    endless.write_text(yaml.safe_dump({"explore": {"genetic": {"generations": 10**7}}}))
    cmd = [sys.executable, "-m", "snakemake", f"{out_dir}/summary.json", "-s", str(checkout / "Snakefile"),
           "--directory", str(run), "--cores", "1", "--configfile", str(checkout / "presets" / "smoke.yaml"),
           str(endless)]
    snakemake = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait(lambda: log.exists() and "it/s" in log.read_text(errors="replace"), 300, "the search's progress")
        job = _processes(run, *job_words)
        shells = [pid for pid, name in job.items() if name in ("bash", "sh")]
        searches = [pid for pid, name in job.items() if name.startswith("python")]
        assert len(shells) == 1 and len(searches) == 1, job
        os.kill(shells[0], signal.SIGTERM)
        _wait(lambda: not (run / out_dir).exists(), 120, "Snakemake to remove the failed job's folder")
        os.kill(searches[0], signal.SIGTERM)
        _wait(lambda: searches[0] not in _processes(run, *job_words), 120, "the search to stop")
        snakemake.communicate(timeout=120)
        assert snakemake.returncode != 0
    finally:
        if snakemake.poll() is None:
            snakemake.kill()
        for pid in _processes(run, *job_words):
            os.kill(pid, signal.SIGKILL)
    import torch

    saved = torch.load(run / out_dir / "checkpoint.pt", weights_only=True)
    done = saved["state"]["generation"]
    assert 0 < done < 10**7
    assert f"search stopped after iteration {done}, its state saved in {out_dir}/checkpoint.pt" in log.read_text()
