"""Writing outputs whole or not at all, and naming random streams.

Every file a rule declares is written to a temporary name beside it and renamed into place, so
an interrupted job never leaves a file that looks complete.
"""

from __future__ import annotations

import json
import os
import zlib
from pathlib import Path

import numpy as np


def temporary(path: str | Path) -> Path:
    """The name a file is written under before :func:`os.replace` moves it onto `path`."""
    path = Path(path)
    return path.with_name(f".{path.name}.tmp")


def write_json(obj, path: str | Path):
    tmp = temporary(path)
    tmp.write_text(json.dumps(obj, indent=1) + "\n")
    os.replace(tmp, path)


def write_csv(frame, path: str | Path):
    tmp = temporary(path)
    frame.to_csv(tmp, index=False)
    os.replace(tmp, path)


def save_figure(fig, path: str | Path, dpi: int = 120):
    path = Path(path)
    tmp = temporary(path)
    fig.savefig(tmp, dpi=dpi, format=path.suffix.lstrip(".") or "png")
    os.replace(tmp, path)


def derive_seed(seed: int, *labels) -> int:
    """A seed for the random stream named by `labels` under the master seed: stable across runs,
    machines and Python versions (crc32, not hash())."""
    words = [int(seed)] + [zlib.crc32(str(label).encode()) for label in labels]
    return int(np.random.SeedSequence(words).generate_state(1, np.uint64)[0] >> np.uint64(1))
