"""Bad configuration stops the run before any work, with a message naming the key."""

import shutil
import subprocess
import sys

import pytest
import yaml
from conftest import config_leaves
from latentspin.core import config as cfg

BAD = {
    "L not a multiple of 16": ({"lattice": {"L": 40}}, "lattice.L"),
    "negative temperature": ({"anneal": {"T_end": -0.5}}, "anneal.T_end"),
    "unknown dmi": ({"hamiltonian": {"dmi": "chiral"}}, "hamiltonian.dmi"),
    "negative field": ({"hamiltonian": {"B": -0.1}}, "hamiltonian.B"),
    "non-numeric field": ({"hamiltonian": {"B": "0.1 T"}}, "hamiltonian.B"),
    "field of no value": ({"hamiltonian": {"B": None}}, "hamiltonian.B"),
    "unknown anneal device": ({"anneal": {"device": "gpu"}}, "anneal.device"),
    "unknown torch kernel dtype": ({"anneal": {"torch": {"dtype": "float16"}}}, "anneal.torch.dtype"),
    "compile not a boolean": ({"anneal": {"torch": {"compile": "yes"}}}, "anneal.torch.compile"),
    "more shards than samples": ({"data": {"valid": {"samples": 3, "shards": 5}}}, "data.valid.shards"),
    "T_start below T_end": ({"anneal": {"T_start": 0.001}}, "anneal.T_start"),
    "unknown key": ({"anneal": {"sweep": 10}}, "anneal"),
    "wrong type": ({"data": {"train": {"samples": "many"}}}, "data.train.samples"),
    "non-positive beta": ({"vae": {"betas": [0.1, 0.0]}}, "vae.betas.1"),
    "chosen beta not trained": ({"vae": {"beta": 0.5}}, "vae.beta"),
    "L too small for the VAE": ({"lattice": {"L": 16}}, "lattice.L"),
    "decoder stages": ({"vae": {"architecture": {"decoder_channels": [32, 16, 3]}}}, "vae.architecture.decoder_channels"),
    "unknown algorithm": ({"explore": {"pairs": {"annealing": ["energy"]}}}, "explore.pairs"),
    "unknown objective": ({"explore": {"pairs": {"genetic": ["entropy"]}}}, "explore.pairs.genetic.0"),
    "pressure not positive": ({"explore": {"genetic": {"pressure": {"W": 0}}}}, "explore.genetic.pressure.W"),
    "elites fill the population": ({"explore": {"genetic": {"elitism": 100}}}, "explore.genetic.elitism"),
    "snapshot after the last generation": ({"explore": {"genetic": {"snapshots": [0, 10001]}}},
                                           "explore.genetic.snapshots"),
    "zero lattice vector": ({"explore": {"objectives": {"C": {"a": [0, 0]}}}}, "explore.objectives.C.a"),
    "zero ring direction": ({"explore": {"objectives": {"C_BC": {"boundary": {"direction": [0, 0, 0.0]}}}}},
                            "explore.objectives.C_BC.boundary.direction"),
    "ring without a site": ({"explore": {"objectives": {"C_BC": {"boundary": {"width": 0.001}}}}},
                            "explore.objectives.C_BC.boundary.width"),
    "retraining a search that is not run": ({"explore": {"retrain": {"pairs": {"stochastic": ["Mz", "W"]}}}},
                                            "explore.retrain.pairs.stochastic.1"),
    "retraining no search": ({"explore": {"retrain": {"pairs": {}}}}, "explore.retrain.pairs"),
    "retraining an unknown algorithm": ({"explore": {"retrain": {"pairs": {"annealing": ["Mz"]}}}},
                                        "explore.retrain.pairs"),
}


def test_the_retraining_loop_repeats_its_pairs_in_the_searches_order(paper_config):
    """explore.retrain.pairs: null repeats every search of explore.pairs; a subset keeps the order
    of explore.pairs, whatever order it is written in."""
    assert cfg.retrain_pairs(paper_config) == cfg.explore_pairs(paper_config)
    subset = cfg.merge(paper_config, {"explore": {"retrain": {"pairs": {"stochastic": ["energy", "Mz"],
                                                                        "genetic": ["W"]}}}})
    assert cfg.retrain_pairs(cfg.validate(subset)) == [("genetic", "W"), ("stochastic", "Mz"),
                                                       ("stochastic", "energy")]


def test_paper_config_and_presets_are_valid(root, paper_config):
    cfg.validate(paper_config)
    for preset in sorted((root / "presets").glob("*.yaml")):
        cfg.load([root / "config.yaml", preset])


def test_gpu_preset_is_the_paper_run_on_other_devices(root, paper_config):
    """presets/gpu.yaml changes where and how wide jobs run, and how the samples are sharded, never
    what they compute."""
    gpu = dict(config_leaves(cfg.load([root / "config.yaml", root / "presets" / "gpu.yaml"])))
    paper = dict(config_leaves(paper_config))
    changed = {k for k in paper if gpu[k] != paper[k]}
    assert gpu.keys() == paper.keys()
    assert changed == ({f"{stage}.{key}" for stage in ("anneal", "vae", "explore") for key in ("device", "threads")}
                       | {"data.train.shards", "data.valid.shards"})  # sharding changes no sample (test_data.py)
    assert {gpu[f"{stage}.device"] for stage in ("anneal", "vae", "explore")} == {"cuda"}


@pytest.mark.parametrize("case", sorted(BAD))
def test_validate_names_the_key(case, paper_config):
    override, key = BAD[case]
    with pytest.raises(cfg.ConfigError, match=key.replace(".", r"\.")):
        cfg.validate(cfg.merge(paper_config, override))


def test_missing_key_is_named(paper_config):
    del paper_config["anneal"]["sweeps"]
    with pytest.raises(cfg.ConfigError, match=r"anneal\.sweeps is missing"):
        cfg.validate(paper_config)
    del paper_config["hamiltonian"]
    with pytest.raises(cfg.ConfigError, match="hamiltonian is missing"):
        cfg.validate(paper_config)


def test_missing_beta_is_named(paper_config):
    del paper_config["vae"]["beta"]
    with pytest.raises(cfg.ConfigError, match=r"vae\.beta is missing"):
        cfg.validate(paper_config)
    with pytest.raises(cfg.ConfigError, match=r"vae\.training is missing"):
        cfg.validate({"seed": 1}, ["seed", "vae.training"])


def test_section_validation_checks_only_those_sections(paper_config):
    del paper_config["anneal"]
    cfg.validate(paper_config, ["seed", "lattice"])
    with pytest.raises(cfg.ConfigError, match="anneal is missing"):
        cfg.validate(paper_config, ["seed", "anneal"])


def test_cli_rejects_bad_config_before_work(root, tmp_path):
    out = tmp_path / "shard.zarr"
    r = subprocess.run([sys.executable, "-m", "latentspin", "anneal", "--config", str(root / "config.yaml"),
                        "--config", '{"hamiltonian": {"dmi": "chiral"}}', "--split", "train", "--shard", "0",
                        "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert "hamiltonian.dmi" in r.stderr
    assert not out.exists()


def test_cli_anneal_on_cuda_without_a_gpu_names_the_key(root, tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    out = tmp_path / "shard.zarr"
    r = subprocess.run([sys.executable, "-m", "latentspin", "anneal", "--config", str(root / "config.yaml"),
                        "--split", "train", "--shard", "0", "--device", "cuda", "--out", str(out)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "anneal.device is 'cuda'" in r.stderr, r.stderr[-2000:]
    assert not out.exists()


def copy_workflow(root, dest):
    dest.mkdir(parents=True)
    for name in ("Snakefile", "config.yaml", "rules", "workflow", "envs", "presets"):
        src = root / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(src, dest / name)
    return dest


def snakemake_dry_run(workdir, *args):
    return subprocess.run([sys.executable, "-m", "snakemake", "-n", "--cores", "1", *args], cwd=workdir,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_snakemake_stops_on_bad_config_before_any_job(root, tmp_path):
    """Each bad config makes `snakemake` fail at start-up naming the key, and no job runs."""
    wf = copy_workflow(root, tmp_path / "wf")
    # one case of each way a config is checked (test_validate_names_the_key checks every case): a
    # schema type, an unknown key, a constraint between keys, one between sections, the pairs
    cases = {case: BAD[case] for case in ("negative field", "unknown key", "more shards than samples",
                                          "L not a multiple of 16", "unknown objective",
                                          "retraining a search that is not run")}
    for i, (case, (override, key)) in enumerate(sorted(cases.items())):
        bad = tmp_path / f"bad{i}.yaml"
        bad.write_text(yaml.safe_dump(override))
        r = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "1", "--configfile", str(bad)],
                           cwd=wf, capture_output=True, text=True, timeout=300)
        assert r.returncode != 0, case
        leaf = [part for part in key.split(".") if not part.isdigit()][-1]
        assert leaf in r.stderr + r.stdout, (case, r.stderr[-2000:])
        assert not (wf / "results").exists(), case
    # a key missing from config.yaml itself
    config = yaml.safe_load((wf / "config.yaml").read_text())
    del config["anneal"]["sweeps"]
    (wf / "config.yaml").write_text(yaml.safe_dump(config))
    r = snakemake_dry_run(wf)
    assert r.returncode != 0 and "'sweeps' is a required property" in r.stdout + r.stderr
    assert not (wf / "results").exists()


def test_every_objective_is_known_to_the_schema_the_config_and_the_builder(root, paper_config):
    """An objective is named in four places (docs/architecture.md, "Adding an objective"): config.OBJECTIVES,
    the schema's objective list, the genetic algorithm's pressures (schema and config.yaml), and
    objectives.build. They must agree, or a new objective fails late in a run."""
    from latentspin.explore import objectives
    from latentspin.physics.hamiltonian import Hamiltonian

    schema = yaml.safe_load((root / "workflow/schemas/config.schema.yaml").read_text())
    assert tuple(schema["$defs"]["builtin_objective"]["enum"]) == cfg.OBJECTIVES
    assert {"$ref": "#/$defs/builtin_objective"} in schema["$defs"]["objective_list"]["items"]["anyOf"]
    pressure = schema["properties"]["explore"]["properties"]["genetic"]["properties"]["pressure"]
    assert tuple(pressure["required"]) == cfg.OBJECTIVES == tuple(pressure["properties"])
    assert set(paper_config["explore"]["genetic"]["pressure"]) == set(cfg.OBJECTIVES)
    for name in cfg.OBJECTIVES:
        assert objectives.build(name, 32, Hamiltonian(), paper_config["explore"]["objectives"]).name == name
