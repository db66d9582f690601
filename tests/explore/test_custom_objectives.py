"""Objectives of your own (config explore.objectives.custom, docs/objectives.md): the checks that
refuse a bad one, naming its key; the values of a good one; its searches; and what its jobs depend on."""

import itertools
import json
import math
import sys
import textwrap

import numpy as np
import pytest
import torch
from latentspin import cli
from latentspin.core import config as cfg
from latentspin.core.errors import ConfigError
from latentspin.explore import algorithms, objectives, search
from latentspin.explore.metrics import metrics_table
from latentspin.physics.hamiltonian import Hamiltonian
from latentspin.vae.model import VAE, VAEConfig, save_model

L = 32
KEY = "explore.objectives.custom.q.function"
_names = itertools.count()


@pytest.fixture
def module(tmp_path, monkeypatch):
    """write(source) -> "module:" of a new module holding `source` (a fresh name each time, so
    that no test sees another's module), importable from tmp_path."""
    monkeypatch.syspath_prepend(str(tmp_path))
    written = []

    def write(source: str) -> str:
        name = f"user_objectives_{next(_names)}"
        (tmp_path / f"{name}.py").write_text("import math\nimport numpy as np\nimport torch\n\n"
                                             + textwrap.dedent(source))
        written.append(name)
        return name

    yield write
    for name in written:
        sys.modules.pop(name, None)


def spec(function, maximize=True, pressure=5.0, **extra):
    return {"function": function, "maximize": maximize, "pressure": pressure, **extra}


def build(function, gradient=True, **extra):
    return objectives.custom_objective("q", spec(function, **extra), L, gradient=gradient)


def refused(function, *fragments, gradient=True):
    with pytest.raises(ConfigError) as e:
        build(function, gradient=gradient)
    message = str(e.value)
    assert message.startswith(f"config key {KEY} ({function})") and "\n" not in message, message
    for fragment in fragments:
        assert fragment in message, message
    return message


# --- a bad function is refused, naming its key and what failed -----------------------------------


def test_a_module_that_is_not_there_is_named(module):
    refused("no_such_module_xyz.sub:f", "module 'no_such_module_xyz' not found", "working directory")
    package = module("")
    refused(f"{package}.missing:f", f"module '{package}.missing' not found")


def test_a_module_that_fails_to_import_is_refused_with_its_error(module):
    m = module("raise RuntimeError('the GPU cluster only')\n")
    refused(f"{m}:f", f"importing module '{m}' raised RuntimeError: the GPU cluster only")
    m = module("import no_such_dependency_xyz\n")
    refused(f"{m}:f", "raised ModuleNotFoundError: No module named 'no_such_dependency_xyz'")


def test_a_missing_attribute_and_one_not_callable_are_refused(module):
    m = module("threshold = 0.5\n")
    refused(f"{m}:sz2", f"module '{m}'", "has no attribute 'sz2'")
    refused(f"{m}:threshold", "'threshold' is a float, not callable")


def test_a_function_that_raises_is_refused_with_its_message(module):
    m = module("""
        def f(spins):
            raise ValueError("expects a square lattice of side 64")
    """)
    refused(f"{m}:f", "raised ValueError on random unit spins of shape (2, 3, 32, 32), float32: "
                      "expects a square lattice of side 64")


def test_a_wrong_shape_or_type_is_refused_naming_it(module):
    m = module("""
        def per_site(spins):
            return spins[:, 2]
        def total(spins):
            return spins[:, 2].mean()
        def as_numpy(spins):
            return spins[:, 2].mean(dim=(-2, -1)).numpy()
        def counted(spins):
            return (spins[:, 2] > 0).sum(dim=(-2, -1))
    """)
    refused(f"{m}:per_site", "returned shape (2, 32, 32) on random unit spins of shape (2, 3, 32, 32)",
            "expected (2,): one value per state")
    refused(f"{m}:total", "returned shape ()")
    refused(f"{m}:as_numpy", "returned a numpy.ndarray", "expected a torch tensor of shape (2,)", gradient=False)
    refused(f"{m}:counted", "returned a tensor of torch.int64", "floating-point", gradient=False)


def test_nan_or_inf_values_are_refused(module):
    m = module("""
        def nan(spins):
            return spins[:, 2].mean(dim=(-2, -1)) * float("nan")
        def log_mz(spins):
            return torch.log(spins[:, 2].mean(dim=(-2, -1)) * 0)
        def inf_in_float64(spins):
            v = spins[:, 2].mean(dim=(-2, -1))
            return v / 0 if spins.dtype == torch.float64 else v
    """)
    refused(f"{m}:nan", "returned non-finite values [nan, nan]")
    refused(f"{m}:log_mz", "returned non-finite values [-inf, -inf]")
    # the measurements call it in float64: checked there too
    refused(f"{m}:inf_in_float64", "returned non-finite values", "float64")


def test_no_gradient_is_refused_where_a_search_follows_it_and_accepted_by_the_genetic_one(module):
    m = module("""
        def detached(spins):
            return spins[:, 2].square().mean(dim=(-2, -1)).detach()
        def via_numpy(spins):
            return torch.from_numpy(spins.detach().double().numpy()[:, 2].mean(axis=(-2, -1)))
        def sqrt_of_zero(spins):  # finite values, a NaN gradient (0 * inf)
            return torch.sqrt(spins[:, 0] * 0).mean(dim=(-2, -1))
    """)
    for name in ("detached", "via_numpy"):
        refused(f"{m}:{name}", "has no gradient on random unit spins", "single_code and stochastic follow its gradient")
        assert build(f"{m}:{name}", gradient=False).name == "q"  # the genetic algorithm needs only values
    # (the x components' 2 x 32 x 32 entries: 0 * inf)
    refused(f"{m}:sqrt_of_zero", "has a non-finite gradient", "(2048 of 6144 entries NaN or infinite)")
    assert build(f"{m}:sqrt_of_zero", gradient=False).value(objectives.random_unit_spins(L)).tolist() == [0.0, 0.0]


def test_a_module_edited_after_planning_is_refused(module, tmp_path):
    m = module("""
        def sz2(spins):
            return spins[:, 2].square().mean(dim=(-2, -1))
    """)
    digest = cfg.file_sha256(tmp_path / f"{m}.py")
    assert build(f"{m}:sz2", source_sha256=digest).source["source_sha256"] == digest
    with pytest.raises(ConfigError, match=r"^config key explore\.objectives\.custom\.q\.source_sha256: the module .* "
                                          r"changed after Snakemake planned this job"):
        build(f"{m}:sz2", source_sha256="0" * 64)


def test_a_value_of_the_wrong_shape_during_a_search_stops_it_naming_the_key(module):
    """Checked on 2 states at start-up, but a function that keeps only the first two is caught
    when a search calls it on more."""
    m = module("""
        def first_two(spins):
            return spins[:2, 2].mean(dim=(-2, -1))
    """)
    q = build(f"{m}:first_two")
    with pytest.raises(ConfigError, match=r"config key explore\.objectives\.custom\.q\.function .* returned \(2,\) for "
                                          r"spins of shape \(5, 3, 32, 32\); expected \(5,\)"):
        q.value(objectives.random_unit_spins(L, 5))


def test_the_config_refuses_a_built_in_name_and_a_pair_of_an_unknown_objective(paper_config):
    config = cfg.merge(paper_config, {"explore": {"objectives": {"custom": {"Mz": spec("examples.objectives:sz2")}}}})
    with pytest.raises(ConfigError, match=r"^config key explore\.objectives\.custom\.Mz: 'Mz' is a built-in objective"):
        cfg.validate(config)
    config = cfg.merge(paper_config, {"explore": {"pairs": {"genetic": ["W", "sz3"]}}})
    with pytest.raises(ConfigError, match=r"^config key explore\.pairs\.genetic\.1: objective 'sz3' is neither built "
                                          r"in \(energy, W, Mz, C, C_BC\) nor defined under explore\.objectives\.custom$"):
        cfg.validate(config)
    config["explore"]["objectives"]["custom"] = {"sz3": spec("examples.objectives:sz2")}
    assert cfg.validate(config)  # defined: accepted
    for bad, message in (({"function": "examples/objectives.py"}, "does not match"),
                         ({"pressure": 0}, "less than or equal to the minimum of 0"),
                         ({"maximise": True}, "'maximise' was unexpected")):
        config["explore"]["objectives"]["custom"] = {"sz3": {**spec("examples.objectives:sz2"), **bad}}
        with pytest.raises(ConfigError, match=r"^config key explore\.objectives\.custom\.sz3") as e:
            cfg.validate(config)
        assert message in str(e.value)
    config["explore"]["objectives"]["custom"] = {"2d": spec("examples.objectives:sz2")}
    with pytest.raises(ConfigError, match=r"^config key explore\.objectives\.custom: '2d' does not match"):
        cfg.validate(config)


def test_the_explore_command_refuses_a_bad_objective_before_reading_the_model(module, root, paper_config, tmp_path,
                                                                              capsys):
    m = module("""
        def f(spins):
            return spins[:, 2]
    """)
    config = cfg.merge(paper_config, {"explore": {"objectives": {"custom": {"q": spec(f"{m}:f")}}}})
    argv = ["explore", "--config", json.dumps(config), "--algorithm", "genetic", "--objective", "q", "--model",
            str(tmp_path / "no_model.pt"), "--out-dir", str(tmp_path / "out")]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    # tried at the config's L (the paper's 128)
    assert err.startswith(f"latentspin: error: config key {KEY} ({m}:f) returned shape (2, 128, 128) on random unit "
                          "spins of shape (2, 3, 128, 128), float32; expected (2,)"), err
    assert not (tmp_path / "out").exists()
    argv[argv.index("q")] = "nope"
    assert cli.main(argv) == 2
    assert "config key explore.objectives.custom.nope is missing" in capsys.readouterr().err


# --- a good one --------------------------------------------------------------------------------


@pytest.fixture
def example(root, monkeypatch):
    """examples/objectives.py, the worked example of docs/objectives.md, as the workflow imports it
    from its directory."""
    monkeypatch.syspath_prepend(str(root))
    return spec("examples.objectives:sz2", description="mean squared out-of-plane magnetization")


def xz_spiral(n_turns: int, dtype=torch.float64) -> torch.Tensor:
    """S(x, y) = (sin qx, 0, cos qx), q = 2π n / L: a spiral in the xz plane along x."""
    phase = 2 * math.pi * n_turns * torch.arange(L, dtype=dtype) / L
    s = torch.stack([torch.sin(phase), torch.zeros_like(phase), torch.cos(phase)])
    return s[:, None, :].expand(3, L, L)[None].clone()


def test_the_example_objective_on_states_whose_value_is_known(example):
    q = objectives.build("sz2", L, Hamiltonian(), {"custom": {"sz2": example}}, gradient=True)
    assert (q.name, q.maximize, q.pressure, q.description) == ("sz2", True, 5.0, example["description"])
    up = torch.zeros(1, 3, L, L, dtype=torch.float64)
    up[:, 2] = 1
    assert q.value(up).item() == 1.0 and q.value(-up).item() == 1.0
    assert q.cost(up).item() == -1.0 and q.fitness(up).item() == 1.0
    # a commensurate spiral: the mean of cos² over whole turns is exactly 1/2; in-plane spins give 0
    for n in (1, 3, 5):
        assert q.value(xz_spiral(n)).item() == pytest.approx(0.5, abs=1e-15)
    in_plane = xz_spiral(2)[:, [2, 0, 1]]  # (cos, sin, 0): a spiral in the xy plane
    assert q.value(in_plane).item() == 0.0
    # batched, float32 too: the values of each state in turn
    batch = torch.cat([up, xz_spiral(1), in_plane]).float()
    torch.testing.assert_close(q.value(batch), torch.tensor([1.0, 0.5, 0.0]))
    # random unit spins: ⟨S_z²⟩ = 1/3 on average
    assert q.value(objectives.random_unit_spins(64, 4)).mean().item() == pytest.approx(1 / 3, abs=0.01)


def test_objective_names_pairs_and_the_jobs_config(example, paper_config, tmp_path):
    config = cfg.merge(paper_config, {"explore": {"objectives": {"custom": {"sz2": example}}}})
    config["explore"]["pairs"] = {"genetic": ["W", "sz2"], "single_code": ["sz2"]}
    cfg.validate(config)
    assert cfg.objective_names(config) == ("energy", "W", "Mz", "C", "C_BC", "sz2")
    assert cfg.explore_pairs(config) == [("single_code", "sz2"), ("genetic", "W"), ("genetic", "sz2")]
    config["explore"]["full_matrix"] = True
    assert len(cfg.explore_pairs(config)) == 18 and ("stochastic", "sz2") in cfg.explore_pairs(config)
    # a built-in pair's job config is what it was before your objective was added: nothing reruns
    plain = cfg.merge(paper_config, {})
    for algorithm, name in (("genetic", "W"), ("stochastic", "C_BC")):
        assert cfg.explore_job_json(config, algorithm, name) == cfg.explore_job_json(plain, algorithm, name)
        assert "custom" not in cfg.explore_job_json(config, algorithm, name)
    # yours carries its entry alone, with its module's digest, and leaves the config untouched
    job = json.loads(cfg.explore_job_json(config, "genetic", "sz2"))
    module_file = cfg.objective_module_file(example["function"])
    assert module_file.name == "objectives.py" and module_file.parent.name == "examples"
    assert job["explore"]["objectives"]["custom"] == {"sz2": {**example, "source_sha256": cfg.file_sha256(module_file)}}
    assert set(job["explore"]) == {"objectives", "genetic", "nodal_threshold", "relax_sweeps", "stability"}
    assert "source_sha256" not in config["explore"]["objectives"]["custom"]["sz2"]
    cfg.validate(job, cfg.explore_sections("genetic", "sz2"))  # what the explore command checks
    with pytest.raises(ConfigError, match="expected one of energy, W, Mz, C, C_BC or a name under"):
        cfg.explore_sections("genetic", "../sz2")


def test_metrics_put_your_objectives_after_the_built_in_ones():
    rows = [{"algorithm": a, "objective": o} for a, o in
            (("stochastic", "sz2"), ("genetic", "zeta"), ("genetic", "W"), ("genetic", "alpha"), ("single_code", "q"),
             ("genetic", "energy"))]
    table = metrics_table(rows)
    assert list(zip(table["algorithm"], table["objective"])) == [
        ("single_code", "q"), ("genetic", "energy"), ("genetic", "W"), ("genetic", "alpha"), ("genetic", "zeta"),
        ("stochastic", "sz2")]


# --- its searches --------------------------------------------------------------------------------


def toy_config(paper_config, example, **custom_extra):
    return cfg.merge(paper_config, {
        "lattice": {"L": L},
        "explore": {"objectives": {"custom": {"sz2": {**example, **custom_extra}}},
                    "single_code": {"codes": 3, "iterations": 12, "record_every": 4},
                    "genetic": {"population": 8, "generations": 4, "snapshots": [0, 4]},
                    "stochastic": {"samples": 4, "gamma_every": 5, "max_iterations": 10, "record_every": 5,
                                   "level_samples": 2},
                    "relax_sweeps": 2}})


@pytest.fixture(scope="module")
def toy_model():
    torch.manual_seed(0)
    model = VAE(VAEConfig(L=L, latent_dim=8, encoder_channels=(4, 6, 8, 8), decoder_channels=(8, 6, 4, 3), dense=16))
    model.extra = {"beta": 1e-3}
    return model.eval()


def sz2(spins) -> np.ndarray:
    return np.mean(np.asarray(spins, dtype=np.float64)[:, 2] ** 2, axis=(-2, -1))


@pytest.mark.parametrize("algorithm", ["genetic", "single_code", "stochastic"])
def test_a_search_of_your_objective_records_its_values(algorithm, example, paper_config, toy_model, monkeypatch):
    """Each algorithm runs on it; the objective recorded for the initial, final and relaxed states
    is ⟨S_z²⟩ of those states, and the genetic search uses the pressure given with it."""
    config = toy_config(paper_config, example, pressure=3.5)
    pressures = []
    genetic = algorithms.genetic
    monkeypatch.setattr(algorithms, "genetic", lambda *a, **k: (pressures.append(k["pressure"]), genetic(*a, **k))[1])
    ds, summary = search.run_pair(config, algorithm, "sz2", toy_model, device=torch.device("cpu"), progress=False)
    assert pressures == ([3.5] if algorithm == "genetic" else [])
    assert (ds.attrs["objective"], ds.attrs["maximize"], summary["objective"]) == ("sz2", 1, "sz2")
    assert ds.attrs["objective_function"] == "examples.objectives:sz2"
    assert ds.attrs["description"] == example["description"]
    for state in ("initial", "final", "relaxed"):
        values = ds[f"{state}_objective"].values
        np.testing.assert_allclose(values, sz2(ds[f"{state}_spins"].values), rtol=0, atol=1e-6)
        assert np.isfinite(values).all() and ((0 <= values) & (values <= 1)).all()
        assert summary[f"{state}_objective"] == pytest.approx(float(values.mean()), abs=1e-12)
    if algorithm == "genetic":  # the last generation's best is the final population's, measured anew
        np.testing.assert_allclose(ds["final_population_objective"].values.max(), ds["value_max"].values[-1],
                                   rtol=0, atol=1e-6)
    elif algorithm == "single_code":  # Adam raised ⟨S_z²⟩ of every code: cost = -⟨S_z²⟩ fell
        cost = ds["cost"].values
        assert (cost[-1] < cost[0]).all()
        np.testing.assert_allclose(-cost[0], sz2(ds["initial_spins"].values), rtol=0, atol=1e-6)
    else:  # μ* along the path and the samples of each γ level, measured by it too: ⟨S_z²⟩ in [0, 1]
        for v in (ds["probe_objective"].values, ds["level_objective"].values):
            assert np.isfinite(v).all() and ((0 <= v) & (v <= 1)).all()
        assert ds["level_objective"].shape == (2, 2)


def test_the_fingerprint_of_its_search_names_the_function_and_the_modules_digest(example, paper_config, toy_model):
    config = toy_config(paper_config, example)
    job = json.loads(cfg.explore_job_json(config, "stochastic", "sz2"))
    job = cfg.merge(config, job)
    a = search.search_fingerprint(job, "stochastic", "sz2", toy_model, torch.device("cpu"))
    assert a["objective"] == "sz2"
    entry = a["config"]["explore"]["objectives"]["custom"]
    assert list(entry) == ["sz2"] and entry["sz2"]["function"] == "examples.objectives:sz2"
    assert len(entry["sz2"]["source_sha256"]) == 64
    other = cfg.merge(job, {"explore": {"objectives": {"custom": {"sz2": {"source_sha256": "0" * 64}}}}})
    assert search.search_fingerprint(other, "stochastic", "sz2", toy_model, torch.device("cpu")) != a
    # a built-in pair's fingerprint ignores your objectives (its checkpoint stays valid)
    plain = cfg.merge(config, {})
    plain["explore"]["objectives"] = {k: v for k, v in plain["explore"]["objectives"].items() if k != "custom"}
    mz = search.search_fingerprint(config, "stochastic", "Mz", toy_model, torch.device("cpu"))
    assert mz == search.search_fingerprint(plain, "stochastic", "Mz", toy_model, torch.device("cpu"))
    assert "custom" not in mz["config"]["explore"]["objectives"]


def test_the_explore_command_runs_your_objective(example, paper_config, toy_model, tmp_path):
    model_path = tmp_path / "model.pt"
    save_model(toy_model, model_path, extra={"beta": 1e-3})
    config = toy_config(paper_config, example)
    argv = ["explore", "--config", cfg.explore_job_json(config, "genetic", "sz2"), "--algorithm", "genetic",
            "--objective", "sz2", "--model", str(model_path), "--out-dir", str(tmp_path / "out"), "--device", "cpu",
            "--threads", "1"]
    assert cli.main(argv) == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["objective"] == "sz2" and 0 <= summary["final_objective"] <= 1
