"""An objective of your own through real Snakemake at the smoke preset (docs/objectives.md): the
smoke run's full matrix holds conftest.CUSTOM_OBJECTIVE, ⟨S_z²⟩ from myobjectives.py in the working
directory. Its searches run, their rows and paths are drawn, editing the module reruns them
alone, and a bad function stops Snakemake before any job."""

import os
import re

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import CUSTOM_OBJECTIVE
from conftest import run_snakemake as snakemake
from latentspin.core import config as cfg
from latentspin.core import stores

pytestmark = pytest.mark.slow

(NAME,) = CUSTOM_OBJECTIVE


def test_the_searches_of_your_objective_have_their_rows_and_paths(smoke, checkout):
    workdir = smoke
    metrics = pd.read_csv(workdir / "results/explore/metrics.csv")
    yours = metrics[metrics["objective"] == NAME].set_index("algorithm")
    assert sorted(yours.index) == sorted(cfg.ALGORITHMS)
    # how the stochastic search ended and on which γ schedule: empty in the other algorithms' rows
    stochastic_only = ["converged", "iterations", "gamma_start", "gamma_factor", "gamma_every"]
    numbers = yours.select_dtypes("number").drop(columns=stochastic_only)
    assert numbers.shape[1] > 25 and np.isfinite(numbers.to_numpy(dtype=float)).all()
    assert np.isfinite(yours.loc["stochastic", stochastic_only].to_numpy(dtype=float)).all()
    assert (yours["decodes"] > 0).all()
    for algorithm, row in yours.iterrows():
        # the objective recorded is ⟨S_z²⟩ of the states the search ended with, and of their relaxation
        ds = stores.open_dataset(workdir / f"results/explore/{algorithm}/{NAME}/trajectory.zarr")
        assert ds.attrs["objective"] == NAME and ds.attrs["objective_function"] == "myobjectives:sz2"
        for state in ("final", "relaxed"):
            sz2 = np.mean(ds[f"{state}_spins"].values.astype(np.float64)[:, 2] ** 2)
            assert row[f"{state}_objective"] == pytest.approx(sz2, abs=1e-6), (algorithm, state)
        assert 0 <= row["final_objective"] <= 1
    # the paths figure was drawn after the searches, one row per global search: 2 algorithms x 6 objectives
    paths = workdir / "results/figures/paths.png"
    assert paths.stat().st_mtime > (workdir / f"results/explore/stochastic/{NAME}/summary.json").stat().st_mtime
    assert (workdir / "results/benchmarks/figures/paths.tsv").exists()
    config = cfg.load([checkout / "config.yaml", checkout / "presets" / "smoke.yaml"])
    assert yours.loc["stochastic", "gamma_every"] == config["explore"]["stochastic"]["gamma_every"]
    dpi = config["figures"]["dpi"]
    assert mpimg.imread(paths).shape[0] == round((1.9 * 12 + 0.6) * dpi)
    # the claims read the paper's objectives only
    assert not pd.read_csv(workdir / "results/claims.csv")["measured"].str.contains(NAME).any()


def test_editing_your_module_reruns_its_searches_and_no_other(smoke, checkout):
    workdir = smoke
    module = workdir / "myobjectives.py"
    original, times = module.read_text(), module.stat()
    module.write_text(original + "\n# edited by a test\n")
    try:
        r, _ = snakemake(checkout, workdir, extra=("-n",), configfiles=[workdir / "full_matrix.yaml"])
    finally:  # later tests run on these results: the same content and time, so nothing to do
        module.write_text(original)
        os.utime(module, ns=(times.st_atime_ns, times.st_mtime_ns))
    log = r.stdout + r.stderr
    planned = set(re.findall(r"^rule explore:\n(?:    .*\n)*?    wildcards: algorithm=(\w+), objective=(\w+)", log,
                             re.M))
    assert planned == {(a, NAME) for a in cfg.ALGORITHMS}, log[-3000:]
    rules = set(re.findall(r"^(?:local)?rule (\w+):", log, re.M))
    # what reads the searches of every objective; the paper's figures 4 and 5 and the claims read none of yours
    assert rules == {"explore", "explore_metrics", "figure_convergence", "figure_paths", "figure_levels",
                     "figure_relaxation", "all"}, rules


def test_a_bad_function_stops_snakemake_before_any_job(checkout, tmp_path):
    """Checked at start-up, from the working directory: a function that returns a value per site."""
    (tmp_path / "badobjectives.py").write_text("def per_site(spins):\n    return spins[:, 2]\n")
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump({"explore": {"objectives": {"custom": {
        "q": {"function": "badobjectives:per_site", "maximize": False, "pressure": 2}}}, "pairs": {"genetic": ["q"]}}}))
    r, _ = snakemake(checkout, tmp_path, extra=("-n",), configfiles=[tmp_path / "bad.yaml"], timeout=300, check=False)
    assert r.returncode != 0
    assert ("config key explore.objectives.custom.q.function (badobjectives:per_site) returned shape (2, 32, 32) on "
            "random unit spins of shape (2, 3, 32, 32), float32; expected (2,): one value per state") in r.stdout, \
        r.stdout[-2000:] + r.stderr[-2000:]
    assert not (tmp_path / "results").exists()
