"""The workflow's configuration: loading, merging and validation.

One schema (workflow/schemas/config.schema.yaml) documents and checks every key. Snakemake
validates the whole config with it at start-up; the command line validates the sections a
command uses, so a stage run by hand gets the same checks. Rules that constrain several keys at
once, which JSON schema cannot say, are in :func:`check_consistency`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "schemas" / "config.schema.yaml"
SPLITS = ("train", "valid")


class ConfigError(ValueError):
    """A configuration value that the workflow cannot run with; the message names the key."""


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


def validate(config: Mapping, sections: Iterable[str] | None = None) -> dict:
    """Check `config` against the schema (only the top-level `sections` if given) and
    :func:`check_consistency`; raise ConfigError naming the first bad key."""
    full = schema()
    if sections is None:
        target, sub = full, dict(config)
    else:
        sections = list(sections)
        props = full["properties"]
        unknown = [s for s in sections if s not in props]
        if unknown:
            raise ConfigError(f"unknown config section(s): {unknown}")
        target = {**full, "required": sections, "properties": {s: props[s] for s in sections},
                  "additionalProperties": True}
        sub = {s: config[s] for s in sections if s in config}
    validator = jsonschema.Draft202012Validator(target)
    errors = sorted(validator.iter_errors(sub), key=lambda e: list(e.absolute_path))
    if errors:
        e = errors[0]
        path = list(e.absolute_path)
        if e.validator == "required":
            missing = [k for k in e.validator_value if k not in e.instance]
            path = path + missing[:1]
            raise ConfigError(f"config key {_key(path)} is missing")
        raise ConfigError(f"config key {_key(path)}: {e.message}")
    check_consistency(sub)
    return dict(config)


def check_consistency(config: Mapping) -> None:
    """Constraints between keys (applied to the sections present)."""
    anneal = config.get("anneal")
    if anneal and anneal["T_start"] < anneal["T_end"]:
        raise ConfigError(f"config key anneal.T_start ({anneal['T_start']}) must be >= anneal.T_end "
                          f"({anneal['T_end']})")
    for split, spec in (config.get("data") or {}).items():
        if spec["shards"] > spec["samples"]:
            raise ConfigError(f"config key data.{split}.shards ({spec['shards']}) exceeds data.{split}.samples "
                              f"({spec['samples']}): every shard needs at least one sample")


def section_json(config: Mapping, sections: Iterable[str]) -> str:
    """The given sections as compact JSON, for passing to the command line from a rule."""
    return json.dumps({s: config[s] for s in sections}, separators=(",", ":"), sort_keys=True)
