"""The workflow's configuration: loading, merging and validation.

One schema (workflow/schemas/config.schema.yaml) documents and checks every key. Snakemake
validates the whole config with it at start-up; the command line validates the sections a
command uses, so a stage run by hand gets the same checks. Rules that constrain several keys at
once, which JSON schema cannot say, are in :func:`check_consistency`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from latentspin.core.errors import ConfigError

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "config.schema.yaml"
SPLITS = ("train", "valid")
ALGORITHMS = ("single_code", "genetic", "stochastic")
OBJECTIVES = ("energy", "W", "Mz", "C", "C_BC")
# The searches that follow the objective's gradient (the genetic algorithm needs only its values)
GRADIENT_ALGORITHMS = ("single_code", "stochastic")
# The name of an objective of your own (explore.objectives.custom): it names files and wildcards
OBJECTIVE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
CUSTOM_KEY = "explore.objectives.custom"
# What each stage's jobs depend on: a rule passes only these sections to its command, so that
# changing any other key reruns nothing.
ANNEAL_SECTIONS = ("seed", "lattice", "hamiltonian", "data", "anneal")
# a split imported from OVF files (data.{split}.ovf): its observables and attrs
IMPORT_SECTIONS = ("seed", "lattice", "hamiltonian")
TRAIN_SECTIONS = ("seed", "lattice", "vae.architecture", "vae.training")
# a shipped model checked against the config (vae.pretrained)
PRETRAINED_SECTIONS = ("lattice", "vae.beta", "vae.architecture", "vae.pretrained")
DIAGNOSE_SECTIONS = ("seed", "lattice", "hamiltonian", "vae.diagnostics", "explore.nodal_threshold")
# (the built-in objectives' settings only: a search of your own objective adds its own entry of
# explore.objectives.custom, see explore_sections, and the figures read none)
EXPLORE_COMMON_SECTIONS = ("seed", "lattice", "hamiltonian", "vae.training", "explore.objectives.C",
                           "explore.objectives.C_BC", "explore.nodal_threshold", "explore.relax_sweeps",
                           "explore.stability")
FIGURE_SECTIONS = ("lattice", "hamiltonian", "explore.objectives.C", "explore.objectives.C_BC",
                   "explore.nodal_threshold", "figures")
# (not explore.retrain.rounds or .pairs: more rounds, or another objective's searches, leave a
# decoder as it was; the searches a decoder learns from are its job's inputs)
RETRAIN_SECTIONS = ("seed", "lattice", "hamiltonian", "vae.training", "vae.diagnostics", "explore.objectives.C",
                    "explore.objectives.C_BC", "explore.relax_sweeps", "explore.stability", "explore.retrain.k",
                    "explore.retrain.epochs", "explore.retrain.lr")
CLAIMS_SECTIONS = ("lattice", "hamiltonian", "vae.beta", "explore.stability", "figures", "claims")


@cache
def schema() -> dict:
    if not SCHEMA_PATH.exists():
        raise FileNotFoundError(f"config schema not found at {SCHEMA_PATH}; install latentspin from its checkout "
                                "(pip install -e .)")
    return yaml.safe_load(SCHEMA_PATH.read_text())


def merge(base: Mapping, override: Mapping) -> dict:
    """Recursive dict merge, as Snakemake merges --configfile over the Snakefile's configfile."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def read_source(source: str | Path) -> dict:
    """A YAML/JSON file, or an inline JSON/YAML mapping (a string starting with '{')."""
    text = str(source)
    if text.lstrip().startswith("{"):
        data = yaml.safe_load(text)
    else:
        path = Path(text)
        if not path.exists():
            raise ConfigError(f"config file not found: {path}")
        data = yaml.safe_load(path.read_text())
    if not isinstance(data, Mapping):
        raise ConfigError(f"config source {text[:80]!r} is not a mapping")
    return dict(data)


def load(sources: Iterable[str | Path], sections: Iterable[str] | None = None) -> dict:
    """Merge config sources in order and validate `sections` (all if None)."""
    config: dict = {}
    for source in sources:
        config = merge(config, read_source(source))
    return validate(config, sections)


def _key(path: Iterable[Any]) -> str:
    return ".".join(str(p) for p in path) or "<root>"


def _sub(mapping: Mapping, dotted: str):
    node = mapping
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def validate(config: Mapping, sections: Iterable[str] | None = None) -> dict:
    """Check `config` against the schema and :func:`check_consistency`; raise ConfigError naming
    the first bad key. With `sections` (top-level or dotted, e.g. "vae.training"), only those
    parts are required and checked: what one command of the CLI needs."""
    full = schema()
    if sections is None:
        _check(full, dict(config), [])
    else:
        for section in sections:
            node_schema = full
            for part in section.split("."):
                props = node_schema.get("properties", {})
                if part in props:
                    node_schema = props[part]
                elif isinstance(node_schema.get("additionalProperties"), Mapping):  # a named entry, e.g. custom.sz2
                    node_schema = node_schema["additionalProperties"]
                else:
                    raise ConfigError(f"unknown config section {section!r}")
            value = _sub(config, section)
            if value is None:
                raise ConfigError(f"config key {section} is missing")
            _check({**node_schema, "$defs": full.get("$defs", {})}, value, section.split("."))
    check_consistency(config)
    return dict(config)


def _check(node_schema: Mapping, value, prefix: list):
    errors = sorted(jsonschema.Draft202012Validator(node_schema).iter_errors(value),
                    key=lambda e: list(e.absolute_path))
    if errors:
        e = errors[0]
        path = prefix + list(e.absolute_path)
        if e.validator == "required":
            missing = [k for k in e.validator_value if k not in e.instance]
            raise ConfigError(f"config key {_key(path + missing[:1])} is missing")
        raise ConfigError(f"config key {_key(path)}: {e.message}")


def check_consistency(config: Mapping) -> None:
    """Constraints between keys, applied to the parts present."""
    anneal = config.get("anneal")
    if anneal and {"T_start", "T_end"} <= anneal.keys() and anneal["T_start"] < anneal["T_end"]:
        raise ConfigError(f"config key anneal.T_start ({anneal['T_start']}) must be >= anneal.T_end "
                          f"({anneal['T_end']})")
    for split, spec in (config.get("data") or {}).items():
        if isinstance(spec, Mapping) and {"shards", "samples"} <= spec.keys() and spec["shards"] > spec["samples"]:
            raise ConfigError(f"config key data.{split}.shards ({spec['shards']}) exceeds data.{split}.samples "
                              f"({spec['samples']}): every shard needs at least one sample")
    vae = config.get("vae") or {}
    if "beta" in vae and "betas" in vae and not any(abs(vae["beta"] - b) <= 1e-12 * b for b in vae["betas"]):
        raise ConfigError(f"config key vae.beta ({vae['beta']}) must be one of vae.betas {vae['betas']}: "
                          "the explorers use a trained model")
    arch = vae.get("architecture") or {}
    if "encoder_channels" in arch and "decoder_channels" in arch:
        stages = len(arch["encoder_channels"])
        if len(arch["decoder_channels"]) != stages:
            raise ConfigError(f"config key vae.architecture.decoder_channels needs {stages} entries, one per "
                              f"encoder block, got {arch['decoder_channels']}")
        L = (config.get("lattice") or {}).get("L")
        if L is not None and (L % 2**stages or L < 2 ** (stages + 1)):
            raise ConfigError(f"config key lattice.L ({L}) must be a multiple of 2**{stages} and at least "
                              f"{2 ** (stages + 1)}, for {stages} pooling stages")
    if arch.get("kernel_size", 1) % 2 == 0:
        raise ConfigError(f"config key vae.architecture.kernel_size must be odd, got {arch['kernel_size']}")
    _check_explore_consistency(config.get("explore") or {}, (config.get("lattice") or {}).get("L"))


def _check_explore_consistency(explore: Mapping, L: int | None) -> None:
    genetic = explore.get("genetic") or {}
    if {"elitism", "population"} <= genetic.keys() and genetic["elitism"] >= genetic["population"]:
        raise ConfigError(f"config key explore.genetic.elitism ({genetic['elitism']}) must be below "
                          f"explore.genetic.population ({genetic['population']}): elites copied unchanged "
                          "leave no room for children")
    if {"snapshots", "generations"} <= genetic.keys():
        late = [g for g in genetic["snapshots"] if g > genetic["generations"]]
        if late:
            raise ConfigError(f"config key explore.genetic.snapshots names generations {late} after the last one, "
                              f"explore.genetic.generations ({genetic['generations']})")
    objectives = explore.get("objectives") or {}
    a = (objectives.get("C") or {}).get("a")
    if a is not None and not any(a):
        raise ConfigError(f"config key explore.objectives.C.a ({list(a)}) is the zero vector: "
                          "C(0) = <S(r).S(r)> = 1 for every state, nothing to optimize")
    ring = (objectives.get("C_BC") or {}).get("boundary") or {}
    if isinstance(ring.get("direction"), list) and not any(ring["direction"]):
        raise ConfigError(f"config key explore.objectives.C_BC.boundary.direction ({ring['direction']}) is the "
                          "zero vector: S_BC needs a spin direction on the ring")
    if (L is not None and {"radius", "width"} <= ring.keys()
            and next(ring_sites(L, ring["radius"] * L, ring["width"]), None) is None):
        raise ConfigError(f"config key explore.objectives.C_BC.boundary.width ({ring['width']} sites) leaves the "
                          f"ring of radius {ring['radius']} L = {ring['radius'] * L:g} sites without a lattice site")
    custom = objectives.get("custom") or {}
    for name in custom:
        if name in OBJECTIVES:
            raise ConfigError(f"config key {CUSTOM_KEY}.{name}: {name!r} is a built-in objective; give yours "
                              f"another name (the built-in ones: {', '.join(OBJECTIVES)})")
    if "objectives" in explore:  # with the objectives known, every pair must name one of them
        for algorithm, names in (explore.get("pairs") or {}).items():
            for i, name in enumerate(names):
                if name not in OBJECTIVES and name not in custom:
                    raise ConfigError(f"config key explore.pairs.{algorithm}.{i}: objective {name!r} is neither built "
                                      f"in ({', '.join(OBJECTIVES)}) nor defined under {CUSTOM_KEY}")
    repeated = (explore.get("retrain") or {}).get("pairs")
    if repeated and {"pairs", "full_matrix"} <= explore.keys():
        searched = set(explore_pairs({"explore": explore}))
        for algorithm, names in repeated.items():
            for i, name in enumerate(names):
                if (algorithm, name) not in searched:
                    raise ConfigError(f"config key explore.retrain.pairs.{algorithm}.{i}: {algorithm}/{name} is not "
                                      "one of the searches of explore.pairs, so round 0 has no states of it to "
                                      "retrain on")


def ring_sites(L: int, radius: float, width: float) -> Iterator[tuple[int, int]]:
    """The sites (y, x) of an L x L lattice within width/2 of a circle of the given radius (in
    sites) about the lattice's centre, row by row: the ring of the C_BC boundary map."""
    c = (L - 1) / 2
    return ((y, x) for y in range(L) for x in range(L) if abs(math.hypot(x - c, y - c) - radius) <= width / 2)


def subset(config: Mapping, sections: Iterable[str]) -> dict:
    """The given sections (top-level or dotted) as a nested dict."""
    out: dict = {}
    for section in sections:
        *parents, leaf = section.split(".")
        node = out
        for p in parents:
            node = node.setdefault(p, {})
        value = _sub(config, section)
        if value is None:
            raise ConfigError(f"config key {section} is missing")
        node[leaf] = value
    return out


def section_json(config: Mapping, sections: Iterable[str]) -> str:
    """The given sections as compact JSON, for passing to the command line from a rule: a
    rule's params hold only what its job depends on, so changing another key reruns nothing."""
    return json.dumps(subset(config, sections), separators=(",", ":"), sort_keys=True)


def explore_sections(algorithm: str, objective: str | None = None) -> tuple[str, ...]:
    """What an exploration job depends on: changing another algorithm's settings, or another
    objective of your own (explore.objectives.custom), reruns nothing."""
    sections = EXPLORE_COMMON_SECTIONS + (f"explore.{algorithm}",)
    if objective is None or objective in OBJECTIVES:
        return sections
    if not OBJECTIVE_NAME.fullmatch(objective):
        raise ConfigError(f"objective {objective!r}: expected one of {', '.join(OBJECTIVES)} or a name under "
                          f"{CUSTOM_KEY} (a letter, then letters, digits or _)")
    return sections + (f"{CUSTOM_KEY}.{objective}",)


def custom_objectives(config: Mapping) -> dict:
    """The objectives of your own, {name: {function, maximize, pressure, ...}} (explore.objectives.custom)."""
    return dict(((config.get("explore") or {}).get("objectives") or {}).get("custom") or {})


def objective_names(config: Mapping) -> tuple[str, ...]:
    """The built-in objectives, then those of your own in the config's order."""
    return OBJECTIVES + tuple(custom_objectives(config))


def explore_pairs(config: Mapping) -> list[tuple[str, str]]:
    """The (algorithm, objective) pairs to run: the configured ones, or with full_matrix every
    algorithm with every objective, the 5 built-in ones and your own (15 pairs without them)."""
    ex = config["explore"]
    if ex["full_matrix"]:
        return [(a, o) for a in ALGORITHMS for o in objective_names(config)]
    return [(a, o) for a in ALGORITHMS for o in ex["pairs"].get(a, [])]


def retrain_pairs(config: Mapping) -> list[tuple[str, str]]:
    """The searches each round of the retraining loop repeats (explore.retrain.pairs, a subset of
    :func:`explore_pairs`; null: all of them), in the order of explore_pairs."""
    repeated = config["explore"]["retrain"]["pairs"]
    pairs = explore_pairs(config)
    return pairs if repeated is None else [(a, o) for a, o in pairs if o in repeated.get(a, [])]


# a search's batch and its length, the keys of explore.{algorithm}: their product is its most decodes
SEARCH_SIZE = {"single_code": ("codes", "iterations"), "genetic": ("population", "generations"),
               "stochastic": ("samples", "max_iterations")}


def search_priority(config: Mapping, algorithm: str) -> int:
    """A search job's Snakemake priority: its most decodes (SEARCH_SIZE), counted twice where the
    search follows a gradient (its backward pass costs about as much as the decode). With fewer
    cores than searches the longest start first, so that none of them is left to run alone at the
    end (at the paper's settings, the stochastic searches)."""
    batch, steps = SEARCH_SIZE[algorithm]
    ex = config["explore"][algorithm]
    return ex[batch] * ex[steps] * (2 if algorithm in GRADIENT_ALGORITHMS else 1)


def objective_module_file(function: str) -> Path | None:
    """The file of the module of a custom objective's ``module:attribute`` (found, not run, by
    importlib.util.find_spec; a package's parents are imported), or None if it has none."""
    spec = importlib.util.find_spec(function.partition(":")[0])
    origin = spec.origin if spec is not None else None
    return Path(origin) if origin and Path(origin).is_file() else None


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def explore_job_json(config: Mapping, algorithm: str, objective: str) -> str:
    """The config of one search job as compact JSON (a rule's parameter, see :func:`section_json`):
    its sections, and for an objective of your own its entry of explore.objectives.custom with
    the SHA-256 of its module's source (``source_sha256``), so that editing the module, or naming
    another function, reruns the searches of that objective and no other."""
    return _objective_job_json(config, explore_sections(algorithm, objective), objective)


def retrain_sections(objective: str) -> tuple[str, ...]:
    """What a retraining job (explore.retrain) for `objective` depends on: as a search's
    (:func:`explore_sections`), the entry of an objective of your own included."""
    return RETRAIN_SECTIONS + ((f"{CUSTOM_KEY}.{objective}",) if objective not in OBJECTIVES else ())


def retrain_job_json(config: Mapping, objective: str) -> str:
    """The config of one retraining job for `objective`, as :func:`explore_job_json` gives a
    search's."""
    return _objective_job_json(config, retrain_sections(objective), objective)


def _objective_job_json(config: Mapping, sections: tuple[str, ...], objective: str) -> str:
    job = subset(config, sections)
    if objective not in OBJECTIVES:
        spec = dict(job["explore"]["objectives"]["custom"][objective])
        path = objective_module_file(spec["function"])
        if path is not None:
            spec["source_sha256"] = file_sha256(path)
        job["explore"]["objectives"]["custom"] = {objective: spec}
    return json.dumps(job, separators=(",", ":"), sort_keys=True)
