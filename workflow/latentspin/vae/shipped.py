"""A trained model as a file to hand on: exported once, then used instead of training
(``vae.pretrained``; the repository's own is ``models/``, docs/models.md).

The file is what :func:`~latentspin.vae.model.save_model` writes (weights, architecture, and the
SHA-256 of the weights, read back with ``torch.load(weights_only=True)``, so loading it runs no
code), with its training history and where it came from in the metadata. A config names it with
the SHA-256 of the whole file (``vae.pretrained.sha256``): a changed, replaced or truncated file is
refused before anything runs, naming it, and so is a model whose architecture, lattice or β is not
the config's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from latentspin.core.config import file_sha256
from latentspin.core.errors import ConfigError, DamagedFile
from latentspin.core.io import write_csv
from latentspin.vae.model import load_model, save_model
from latentspin.vae.training import vae_config

KEY = "vae.pretrained"
HISTORY_COLUMNS = ("epoch", "train_rc", "train_kl", "train_loss", "valid_rc", "valid_kl", "seconds")


def export_model(model_path: str | Path, history_path: str | Path, out: str | Path,
                 provenance: Mapping | None = None) -> str:
    """Write the model at `model_path` (as training saved it) with its history (the
    ``history.csv`` beside it) and `provenance` (plain JSON: commit, config, machine, hours...)
    into one file `out`; returns the file's SHA-256, what ``vae.pretrained.sha256`` names."""
    model = load_model(model_path)
    history = pd.read_csv(history_path)
    missing = [c for c in HISTORY_COLUMNS if c not in history.columns]
    if missing:
        raise DamagedFile(f"{history_path}: columns {missing} are missing; not a training history")
    if "epochs_trained" in model.extra and len(history) != model.extra["epochs_trained"]:
        raise DamagedFile(f"{history_path}: {len(history)} epochs, but the model {model_path} was trained for "
                          f"{model.extra['epochs_trained']}: the history is not this model's")
    extra = {**model.extra,
             "history": {c: [float(v) for v in history[c]] for c in HISTORY_COLUMNS},
             "provenance": json.loads(json.dumps(dict(provenance or {})))}  # plain types only
    save_model(model, out, extra=extra)
    return file_sha256(out)


def resolve(path: str | Path, search: list[str | Path]) -> Path:
    """A relative `path` found in the first of the folders `search` that has it (the working
    directory, then the workflow's); raises ConfigError naming the key if none has."""
    path = Path(path)
    candidates = [path] if path.is_absolute() else [Path(d) / path for d in search]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    where = ", ".join(str(c) for c in candidates)
    raise ConfigError(f"config key {KEY}.path ({path}): no such file (looked for {where})")


def check(config: Mapping, path: str | Path):
    """The model file `path` that ``vae.pretrained`` names, checked against the config: its
    SHA-256, then the model it holds (weights only, intact, finite), its architecture and lattice
    (``vae.architecture``, ``lattice.L``), its β (``vae.beta``) and its history. Returns the
    model; anything else raises ConfigError or DamagedFile naming the file and the key."""
    spec = config["vae"]["pretrained"]
    digest = file_sha256(path)
    if digest != spec["sha256"]:
        raise DamagedFile(f"{path}: its SHA-256 is {digest}, not the {spec['sha256']} that config key {KEY}.sha256 "
                          "names: the file was changed, replaced or cut short. Restore it (in the repository: "
                          f"`git checkout -- {path}`), or name the file you mean to use with its SHA-256")
    model = load_model(path)
    expected, found = vae_config(config).as_dict(), model.cfg.as_dict()
    for name in expected:
        if expected[name] != found.get(name):
            key = "lattice.L" if name == "L" else f"vae.architecture.{name}"
            raise ConfigError(f"config key {key} is {expected[name]!r}, but the model in {path} ({KEY}) has "
                              f"{found.get(name)!r}: a shipped model runs with the config it was trained with "
                              "(its preset)")
    beta = model.extra.get("beta")
    if beta is None or float(beta) != float(config["vae"]["beta"]):
        raise ConfigError(f"config key vae.beta is {config['vae']['beta']!r}, but the model in {path} ({KEY}) was "
                          f"trained with beta {beta!r}")
    history = model.extra.get("history")
    if not isinstance(history, Mapping) or any(c not in history for c in HISTORY_COLUMNS):
        raise DamagedFile(f"{path}: no training history in the file; {KEY} takes a file written by "
                          "`latentspin export-model`")
    return model


def install(config: Mapping, path: str | Path, out_dir: str | Path) -> Path:
    """Check the file `path` (:func:`check`) and write it as ``model.pt``, with its
    ``history.csv``, into `out_dir`: where training would have written them."""
    model = check(config, path)
    out_dir = Path(out_dir)  # made by save_model's write (latentspin.core.io.atomic)
    save_model(model, out_dir / "model.pt", extra=model.extra)
    write_csv(pd.DataFrame(model.extra["history"]), out_dir / "history.csv")
    return out_dir
