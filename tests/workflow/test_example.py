"""The worked example a new user runs first (examples/first_search.py), on the smoke run's decoder."""

import json
import subprocess
import sys

import numpy as np
from latentspin.core.ovf import read_ovf


def test_the_first_example_searches_exports_and_draws(smoke_paper_pairs, root, tmp_path):
    """As docs/objectives.md says to run it: the search raises its objective <S_z²> above the
    decoded origin's, the OVF file holds the found state (its <S_z²> is the one reported, and it
    is a unit-spin L × L state), and the picture is drawn."""
    model = smoke_paper_pairs / "results" / "vae" / "beta0.001" / "model.pt"
    out = tmp_path / "example"
    run = subprocess.run([sys.executable, str(root / "examples" / "first_search.py"), "--model", str(model),
                          "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    numbers = json.loads((out / "result.json").read_text())
    assert numbers["objective_final"] > numbers["objective_start"] + 0.05, numbers
    spins = read_ovf(out / "final.ovf", L=numbers["L"])  # checks unit length and size, naming the file
    assert spins.shape == (1, 3, numbers["L"], numbers["L"])
    assert abs(float(np.mean(spins[0, 2] ** 2)) - numbers["objective_final"]) < 1e-6
    assert abs(float(spins[0, 2].mean()) - numbers["Mz"]) < 1e-6
    assert (out / "search.png").stat().st_size > 10_000
