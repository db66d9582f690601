"""The figures: the panels each must have, drawn from states whose physics is known."""

import numpy as np
import pandas as pd
import pytest
from latentspin.figures import convergence, fig1, fig3, fig4, fig5, panels, paths, relaxation
from latentspin.figures.levels import levels_figure
from latentspin.figures.style import save_figure
from latentspin.physics import textures
from latentspin.physics.hamiltonian import Hamiltonian

HAM = Hamiltonian(J=1.0, D=0.3, dmi="bloch")
L = 32


def spirals(n):
    return np.stack([textures.spiral(L, 1 + k % 2, k % 3, HAM).numpy() for k in range(n)]).astype(np.float32)


def with_defect(x, y0=10, x0=20):
    """A spiral with one spin flipped: a single sharp peak of the local energy density there."""
    s = spirals(1)[0].copy()
    s[:, y0, x0] *= -1
    return s


def spin_panels(fig):
    """Axes showing an RGB image (spins or the colour wheel), not an energy map."""
    axes = fig.axes + [child for ax in fig.axes for child in ax.child_axes]  # with the insets
    return [ax for ax in axes if ax.images and ax.images[0].get_array().ndim == 3]


def test_nodal_mask_finds_the_defect_and_nothing_in_a_spiral():
    masks = panels.nodal_mask(panels.local_energy(np.stack([with_defect(spirals(1)), spirals(1)[0]]), HAM), -1.5)
    assert list(zip(*np.nonzero(masks[0]))) == [(10, 20)]
    assert not masks[1].any()


def test_figure_1_panels_and_the_worst_state_is_the_defect():
    x_vae = np.stack([spirals(1)[0], with_defect(None), spirals(2)[1], spirals(3)[2]])
    fig = fig1.figure_1(spirals(4), x_vae, HAM, -1.5)
    assert len(spin_panels(fig)) == 4 + 4 + 1 + 1  # X_IN, X_VAE, panel c, the colour wheel
    energy_maps = [ax for ax in fig.axes if ax.images and ax.images[0].get_array().ndim == 2]
    assert len(energy_maps) == 1 and "#1: 1 nodal points" in "".join(ax.get_title() for ax in fig.axes)


def test_figure_3_marks_the_removed_nodal_points_and_draws_three_distributions():
    x_vae = np.stack([with_defect(None), spirals(1)[0]])
    x_prime = spirals(2)
    e = {"X_IN": np.full(5, -2.04), "X_VAE": np.array([-2.0, -2.01]), "X'_VAE": np.array([-2.04, -2.039])}
    fig = fig3.figure_3(x_vae, x_prime, e, HAM, -1.5)
    assert len(spin_panels(fig)) == 4
    hist = [ax for ax in fig.axes if ax.get_legend() is not None]
    assert len(hist) == 1 and [t.get_text() for t in hist[0].get_legend().get_texts()] == list(e)
    assert "total 1 in 2 states, 0 left" in fig._suptitle.get_text()


def genetic_run(n_snap=3, w0=0.0, w1=2.0):
    rng = np.random.default_rng(0)
    return {"snapshot_spins": spirals(n_snap), "generations": np.array([0, 10, 100][:n_snap]),
            "values": np.arange(n_snap, dtype=float), "initial_population_W": np.full(8, w0),
            "final_population_W": np.full(8, w1), "initial_population_energy": rng.normal(-2.0, 0.01, 8),
            "final_population_energy": rng.normal(-2.03, 0.01, 8)}


def test_figure_4_a_row_per_run_two_population_panels_and_the_arrow_on_C():
    runs = {o: genetic_run() for o in ("W", "Mz", "C", "energy")}
    fig = fig4.figure_4(runs, [1, 0])
    assert len(spin_panels(fig)) == 4 * 3
    assert len([ax for ax in fig.axes if ax.get_legend() is not None]) == 2  # d and g
    arrows = [ax for ax in fig.axes if any(getattr(t, "arrow_patch", None) for t in ax.texts)]
    assert len(arrows) == 1 and "C = 2.0000" in arrows[0].get_title()  # the last snapshot of C


def test_figure_4_without_genetic_runs_is_an_error():
    with pytest.raises(ValueError, match="at least one genetic run"):
        fig4.figure_4({}, [1, 0])


def test_figure_5_panels_ring_and_the_optimized_state_in_the_w_mz_plane():
    s_bc = np.zeros((3, L, L), dtype=np.float32)
    s_bc[2, 5:8, :] = 1
    sky = textures.skyrmion(L, 5.0, HAM).numpy().astype(np.float32)
    measured = {"energy": -2.0, "W": -1.0, "Mz": 0.9, "max_local_energy": -1.88}
    states = {o: {"spins": x, **measured} for o, x in (("Mz", sky), ("energy", spirals(1)[0]), ("C_BC", sky))}
    mz = np.linspace(-0.2, 0.2, 50)
    fig = fig5.figure_5(states, s_bc, (10.0, 3.0), -10 * mz, mz, {"W": -1.0, "Mz": 0.9, "relaxed_W": -1.0,
                                                                     "relaxed_Mz": 0.88})
    assert len(spin_panels(fig)) == 3 + 1 + 1  # b, c, d; S_BC; the colour wheel
    assert "W=-1" in fig.axes[0].get_title()  # a -z-core skyrmion in a +z background
    scatter = fig.axes[-1]
    assert len(scatter.collections) == 3 and "W = -10.0" in scatter.get_legend().get_texts()[1].get_text()


def test_figure_5_without_the_c_bc_run_says_so_instead_of_drawing_a_map():
    mz = np.linspace(-0.2, 0.2, 50)
    fig = fig5.figure_5({}, None, (10.0, 3.0), -10 * mz, mz, None)
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert "$S_{BC}$: max $C_{BC}$ not run" in texts and sum("not run" in t for t in texts) == 4
    assert len(spin_panels(fig)) == 1  # the colour wheel only


def test_convergence_has_a_panel_per_pair():
    steps = np.arange(5)
    runs = {("single_code", "energy"): {"step": steps, "cost": np.zeros((5, 3)), "maximize": 0},
            ("genetic", "W"): {"generation": steps, "value_min": steps, "value_mean": steps, "value_max": steps,
                               "maximize": 1},
            ("stochastic", "Mz"): {"step": steps, "cost": -steps, "sigma_mean": np.exp(-steps), "maximize": 1}}
    fig = convergence.convergence_figure(runs)
    titled = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titled == ["single-code: min ε", "genetic: max W", "stochastic: max $M_z$"]


def test_relaxation_figure_and_both_formats(tmp_path):
    metrics = pd.DataFrame({"algorithm": ["genetic", "stochastic"], "objective": ["W", "Mz"],
                            **{f"{w}_{q}": [1.0, 2.0] for w in ("final", "relaxed") for q in ("energy", "W", "Mz")}})
    fig = relaxation.relaxation_figure(metrics)
    assert len(fig.axes) == 3
    save_figure(fig, [tmp_path / "r.png", tmp_path / "r.pdf"])
    assert (tmp_path / "r.png").read_bytes()[:4] == b"\x89PNG" and (tmp_path / "r.pdf").read_bytes()[:4] == b"%PDF"


def test_the_relaxation_figure_draws_the_kick_and_its_verdict():
    """With the stability check's columns: the kicked state in every panel and, under each pair,
    whether its states survived the kick (all, none, or how many)."""
    metrics = pd.DataFrame({"algorithm": ["single_code", "genetic", "stochastic"], "objective": ["energy", "W", "Mz"],
                            **{f"{w}_{q}": [1.0, 2.0, 3.0] for w in ("final", "relaxed", "kicked")
                               for q in ("energy", "W", "Mz")},
                            "survived_kick": [37, 1, 0], "states": [100, 1, 1]})
    fig = relaxation.relaxation_figure(metrics)
    assert [len(ax.collections) for ax in fig.axes] == [4, 4, 4]  # the range, then final, relaxed and kicked
    labels = [t.get_text().split("\n")[-1] for t in fig.axes[-1].get_xticklabels()]
    assert labels == ["37 of 100 survived", "survived", "decayed"]


def test_paths_have_a_row_per_global_search_and_mark_the_gamma_drops():
    steps = np.arange(10)
    probes = {"probe_step": steps, **{f"probe_{q}": np.zeros(10) for q in ("energy", "W", "Mz")}, "maximize": 1}
    runs = {("single_code", "energy"): {"step": steps, "cost": np.zeros((10, 2)), "maximize": 0},
            # written before the peak, the amplitude and the radius were recorded: blank panels
            ("genetic", "W"): dict(probes),
            ("stochastic", "Mz"): {**probes, "step": steps, "gamma": np.repeat([1.0, 0.1], 5),
                                   "probe_max_local_energy": np.linspace(-1.9, -1.0, 10),
                                   "probe_amplitude": np.linspace(0.6, 0.2, 10), "prior_amplitude": 0.63,
                                   "probe_latent_radius": np.linspace(0.0, 9.0, 10)}}
    fig = paths.paths_figure(runs, nodal_threshold=-1.5)
    assert len(fig.axes) == 2 * 6
    assert not any(fig.axes[k].axison for k in (3, 4, 5)) and all(fig.axes[k].axison for k in (9, 10, 11))
    drops = [line for line in fig.axes[6].lines if line.get_linestyle() == ":"]
    assert len(drops) == 1 and drops[0].get_xdata()[0] == 5
    threshold = [line for line in fig.axes[9].lines if line.get_linestyle() == "--"]
    assert len(threshold) == 1 and threshold[0].get_ydata()[0] == -1.5
    prior = [line for line in fig.axes[10].lines if line.get_linestyle() == "--"]
    assert len(prior) == 1 and prior[0].get_ydata()[0] == 0.63
    radius = fig.axes[11]
    assert [line.get_ydata()[0] for line in radius.lines if line.get_linestyle() == "--"] == [1.0]
    np.testing.assert_array_equal(radius.lines[0].get_ydata(), np.linspace(0.0, 9.0, 10))


def test_levels_draw_the_first_levels_the_last_and_the_final_centre():
    """Eight γ levels: the first five and the last are drawn, then μ* at the end; each level's
    label carries the means over its samples (|W| of rounded W: -6, -6 and 5.99999 make 6.0)."""
    levels, L = 8, 8
    spins = np.zeros((levels, 2, 3, L, L))
    spins[:, :, 2] = 1.0
    run = {"level_spins": spins, "level_gamma": 0.1 ** np.arange(levels),
           "level_step": 10 * np.arange(1, levels + 1) - 1,
           "level_objective": np.full((levels, 3), 0.25), "level_W": np.tile([-6.0, -6.0, 5.99999], (levels, 1)),
           "level_amplitude": np.full((levels, 3), 0.4), "final_spins": spins[-1], "final_objective": np.array([0.9]),
           "final_W": np.array([-1e-9]),  # drawn as 0, not -0
           "final_amplitude": np.array([0.2]), "prior_amplitude": 0.63, "maximize": 1}
    fig = levels_figure({("stochastic", "Mz"): run, ("genetic", "W"): {"maximize": 1}})
    drawn = [ax for ax in fig.axes if ax.images]
    assert len(drawn) == 7
    assert [ax.get_title() for ax in drawn] == [f"γ = {g:.0e}, step {s:,}" for g, s in
                                                zip(0.1 ** np.array([0, 1, 2, 3, 4, 7]), [10, 20, 30, 40, 50, 80])] \
        + ["μ* at the end"]
    assert drawn[0].get_xlabel() == "⟨$M_z$⟩ 0.2500  ⟨|W|⟩ 6.0\namplitude 0.40"
    assert drawn[-1].get_xlabel() == "$M_z$ 0.9000  W 0\namplitude 0.20"
    with pytest.raises(ValueError, match="level_samples"):
        levels_figure({("genetic", "W"): {"maximize": 1}})


def test_the_command_line_knows_every_figure_and_no_other():
    """cli.py keeps the figures' names itself (so that --help imports no figure): they must agree."""
    from latentspin import cli
    from latentspin.figures import job

    assert cli.FIGURES == job.FIGURES


def test_the_rounds_figure_reads_each_decoder_once_and_draws_every_final_state():
    """Round 0's decoder is read from round 1's 'before' columns; each decoder's validation L_RC
    and prior diversity are drawn once per objective, not once per search of it; the final-state
    grid has a panel per search and round."""
    from latentspin.figures import rounds

    pairs = [("genetic", "W", 1), ("stochastic", "Mz", 1), ("stochastic", "energy", 0)]
    rows = []
    for r in range(3):
        for algorithm, objective, maximize in pairs:
            rows.append({"algorithm": algorithm, "objective": objective, "maximize": maximize, "round": r,
                         **{f"{w}_objective": float(r) for w in ("final", "relaxed")},
                         **{f"final_{q}": 0.5 * r for q, _ in rounds.QUANTITIES},
                         "level_diversity": 0.6 if algorithm == "stochastic" else np.nan,
                         **({} if r == 0 else {"retrain_valid_rc_before": 0.1 * r, "retrain_valid_rc": 0.1 * r + 0.05,
                                               "retrain_prior_diversity_before": 0.9 - 0.1 * r,
                                               "retrain_prior_diversity": 0.85 - 0.1 * r})})
    metrics = pd.DataFrame(rows)
    decoders = rounds.decoder_table(metrics)
    mz = decoders[decoders["objective"] == "Mz"]
    assert list(mz["round"]) == [0, 1, 2]
    np.testing.assert_allclose(mz["valid_rc"], [0.1, 0.15, 0.25])
    np.testing.assert_allclose(mz["prior_diversity"], [0.8, 0.75, 0.65])
    finals = {(a, o, r): (spirals(1)[0], f"round {r}") for a, o, _ in pairs for r in range(3)}
    fig = rounds.rounds_figure(metrics, finals, paper_peak=-1.88, nodal_threshold=-1.5)
    assert len(spin_panels(fig)) == 3 * 3
    rc = next(ax for ax in fig.axes if ax.get_ylabel().startswith("validation"))
    assert len(rc.lines) == 3  # W, Mz and ε: one decoder each
    peak = next(ax for ax in fig.axes if ax.get_ylabel() == "peak local ε")
    assert sorted(line.get_ydata()[0] for line in peak.lines if line.get_linestyle() != "-") == [-1.88, -1.5]
    levels = next(ax for ax in fig.axes if ax.get_ylabel().startswith("diversity of the first"))
    assert len(levels.lines) == 2  # the stochastic searches only
