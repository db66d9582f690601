"""Writing outputs whole or not at all, and naming random streams.

Every file a rule declares is written to a temporary name beside it and renamed into place, so
an interrupted job never leaves a file that looks complete.
"""

from __future__ import annotations

import json
import os
import shutil
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np


def temporary(path: str | Path) -> Path:
    """The name a file is written under before :func:`os.replace` moves it onto `path`."""
    path = Path(path)
    return path.with_name(f".{path.name}.tmp")


def _remove(path: Path):
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


@contextmanager
def atomic(path: str | Path) -> Iterator[Path]:
    """Yield the temporary path to write a file or directory under; when the block succeeds it
    replaces `path`, when it fails it is removed and `path` keeps what it had."""
    path = Path(path)
    tmp = temporary(path)
    _remove(tmp)
    try:
        yield tmp
    except BaseException:
        _remove(tmp)
        raise
    if path.is_dir():  # os.replace moves a directory only onto an empty one
        shutil.rmtree(path)
    os.replace(tmp, path)


def save_torch(obj, path: str | Path):
    """torch.save, whole or not at all: checkpoints that a rerun resumes from."""
    import torch

    with atomic(path) as tmp:
        torch.save(obj, tmp)


def write_json(obj, path: str | Path):
    with atomic(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=1) + "\n")


def write_csv(frame, path: str | Path):
    with atomic(path) as tmp:
        frame.to_csv(tmp, index=False)


def save_figure(fig, paths: str | Path | list, dpi: int = 120):
    """Save to each path in the format its suffix names (.png, .pdf, .svg), then close."""
    import matplotlib.pyplot as plt

    for path in [paths] if isinstance(paths, (str, Path)) else paths:
        with atomic(path) as tmp:
            fig.savefig(tmp, dpi=dpi, format=Path(path).suffix.lstrip(".") or "png")
        # The first save laid the figure out; the others reuse that layout (in inches, so the same
        # at any dpi) instead of solving it again, which for the many-panel figures is most of
        # their drawing time.
        fig.set_layout_engine("none")
    plt.close(fig)


def derive_seed(seed: int, *labels) -> int:
    """A seed for the random stream named by `labels` under the master seed: stable across runs,
    machines and Python versions (crc32, not hash())."""
    words = [int(seed)] + [zlib.crc32(str(label).encode()) for label in labels]
    return int(np.random.SeedSequence(words).generate_state(1, np.uint64)[0] >> np.uint64(1))
