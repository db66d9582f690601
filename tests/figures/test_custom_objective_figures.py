"""What the figures and the claims do with the runs of an objective of your own
(explore.objectives.custom): the figures take them by name, the claims leave them out."""

import numpy as np
import pandas as pd
import pytest
from latentspin.core.errors import ConfigError
from latentspin.figures.claims import CLAIMS, NOT_RUN, Inputs, claims_table
from latentspin.figures.inputs import parse_run


def test_a_run_of_your_objective_is_named_like_the_built_in_ones():
    assert parse_run("genetic/sz2=results/explore/genetic/sz2/trajectory.zarr") == (
        ("genetic", "sz2"), "results/explore/genetic/sz2/trajectory.zarr")
    assert parse_run("stochastic/C_BC=x.zarr") == (("stochastic", "C_BC"), "x.zarr")
    for bad in ("genetic/sz-2=x.zarr", "genetic/=x.zarr", "evolution/sz2=x.zarr", "genetic/sz2"):
        with pytest.raises(ConfigError, match="expected ALGORITHM/OBJECTIVE=PATH"):
            parse_run(bad)


def test_the_claims_leave_the_runs_of_your_objectives_out():
    """The claims concern the paper's objectives: a run of yours beside them changes no row."""
    rng = np.random.default_rng(0)
    x_in = {"energy": rng.normal(-2.04, 0.001, 100), "W": np.zeros(100), "Mz": rng.uniform(-0.2, 0.2, 100)}
    yours = {"initial_population_W": np.full(4, 3.0), "final_population_W": np.full(4, -3.0),
             "final_objective": np.array([0.7]), "final_energy": np.array([5.0])}
    paper = {("genetic", "W"): {"initial_population_W": np.zeros(100), "final_population_W": np.full(100, 6.0)}}
    tables = [claims_table(Inputs(x_in=x_in, pairs=pairs, vae=None, ground_state=-2.04436, chosen_beta=0.001,
                                  criteria={"w_increase": 1.0}))
              for pairs in (paper, {**paper, ("genetic", "sz2"): yours, ("stochastic", "sz2"): yours})]
    pd.testing.assert_frame_equal(tables[0], tables[1])
    t = tables[1].set_index("id")
    assert len(t) == len(CLAIMS) and t.loc["4d-W-by-W", "held"] == "yes" and t.loc["4d-W-by-W", "value"] == 6.0
    assert (t.drop(index="4d-W-by-W")["held"] == NOT_RUN).all()
    assert not t["measured"].str.contains("sz2").any()
