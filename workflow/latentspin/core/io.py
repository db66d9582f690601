"""Writing outputs whole or not at all.

Every file a rule declares is written to a temporary name beside it and renamed into place, so
an interrupted job never leaves a file that looks complete.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from latentspin.core.errors import DiskFull


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
    """Yield the temporary path to write a file or directory under (its folder made if missing);
    when the block succeeds it replaces `path`, when it fails it is removed and `path` keeps what
    it had."""
    path = Path(path)
    tmp = temporary(path)
    # The folder may be gone: Snakemake, clearing a stopped job's incomplete output, removes the
    # empty folders above it (os.removedirs) while the job is still saving its checkpoint there
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove(tmp)  # what a killed write left
    try:
        yield tmp
    except OSError as e:
        _remove(tmp)
        if e.errno == errno.ENOSPC:
            kept = f"the previous {path.name} is kept" if path.exists() else f"no {path.name} was written"
            raise DiskFull(f"{path}: no space left on the device while writing it ({kept}, nothing partial is "
                           "left); free some space and rerun") from None
        raise
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
