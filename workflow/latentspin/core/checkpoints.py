"""Checkpoints of long loops: the explorers' searches and the VAE's training.

A loop hands its whole state to a :class:`Checkpoint` after each step (an explorer's iteration, a
training batch); the checkpoint saves it at most once every so many seconds, and at once after
:meth:`Checkpoint.request_stop`, which :func:`stop_on_signals` calls on SIGTERM (a cluster's time
limit, scancel) or SIGINT (Ctrl-C). A stopped loop has saved a whole step's state, never a
half-updated one, and raises :class:`Stopped`; its rerun goes on from there and ends bitwise where
an uninterrupted run would (same device and threads). So a job stopped by a time limit loses at
most the seconds since its last save, and none when the limit sends SIGTERM first, as SLURM does.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from tqdm import tqdm

# Seconds between checkpoints of a running loop: what a job killed without warning loses at most
CHECKPOINT_SECONDS = 300.0
# The layout of a checkpoint file; a file of another layout (another version of latentspin) is
# set aside, never half-read
CHECKPOINT_FORMAT = 1


class Stopped(Exception):
    """A loop asked to stop (:meth:`Checkpoint.request_stop`) saved its state and stopped."""

    def __init__(self, where: str):
        super().__init__(f"stopped after {where}, its state saved")
        self.where = where


class Checkpoint:
    """Where a loop's state goes and where it comes back from.

    `state`: what a previous run of the same loop saved (None: start afresh). `save`: called with
    the loop's whole state (tensors, plain numbers and lists, an optimizer's state dict) after a
    step, at most once every `every` seconds (0: after every step); it must copy or write what it
    keeps, since the loop goes on changing its tensors. After :meth:`request_stop` (e.g. from a
    signal handler) the next step's end saves and raises :meth:`stopped`'s exception. `where`
    names the step a saved state ends, for that exception and the log.
    """

    def __init__(self, save: Callable[[dict], object] | None = None, every: float = CHECKPOINT_SECONDS,
                 state: dict | None = None, where: Callable[[dict], str] = lambda saved: "a step"):
        if every < 0:
            raise ValueError(f"checkpoint interval must be >= 0 seconds, got {every}")
        self.save, self.every, self.state, self.where = save, every, state, where
        self.stop_requested = False
        self._last = time.monotonic()

    def request_stop(self):
        self.stop_requested = True

    def stopped(self, saved: dict) -> Exception:
        return Stopped(self.where(saved))

    def __call__(self, state: Callable[[], dict], *, due: bool = False):
        """Save `state()` if it is `due`, `every` seconds have passed since the last save (or the
        start), or a stop was requested; then stop if it was."""
        if self.save is None:
            return
        if due or self.stop_requested or time.monotonic() - self._last >= self.every:
            saved = state()
            self.save(saved)
            self._last = time.monotonic()
            if self.stop_requested:
                raise self.stopped(saved)


# The signals after which a loop with a checkpoint saves at the end of its current step and stops
# (SLURM's time limit and scancel send SIGTERM, Ctrl-C and `timeout -s INT` SIGINT); a second one
# acts as it would have without this.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@contextmanager
def stop_on_signals(checkpoint: Checkpoint | None, step: str = "step"):
    """Within the block, a stop signal asks `checkpoint` to stop after the current `step`."""
    if checkpoint is None or checkpoint.save is None or threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return
    # None: a handler not set from Python, which cannot be set back; the default stands in for it
    previous = {sig: signal.getsignal(sig) or signal.SIG_DFL for sig in STOP_SIGNALS}

    def handler(signum, frame):
        tqdm.write(f"{signal.Signals(signum).name}: stopping after this {step}, its state saved", file=sys.stderr)
        checkpoint.request_stop()
        for sig, action in previous.items():  # a second signal is not held back
            signal.signal(sig, action)

    for sig in STOP_SIGNALS:
        signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, action in previous.items():
            signal.signal(sig, action)


def load_checkpoint(path: str | Path, fingerprint: dict, what: str, map_location="cpu") -> dict | None:
    """What a previous run of the same loop (`fingerprint`) saved at `path`, or None where there is
    nothing to resume: no file, a file that cannot be read (cut short, altered, written by another
    version of latentspin or torch) or one of another run. Each of these is said in the log, and
    the `what` (a training, a search) starts afresh; the file is left for the next save to replace."""
    import torch

    path = Path(path)
    if not path.exists():
        return None
    try:
        saved = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # noqa: BLE001 (any unreadable file is set aside alike)
        reason = " ".join(str(e).split())[:200]
        tqdm.write(f"ignoring {path}: it cannot be read ({type(e).__name__}: {reason}); the {what} starts afresh",
                   file=sys.stderr)
        return None
    if not isinstance(saved, dict) or saved.get("format") != CHECKPOINT_FORMAT:
        tqdm.write(f"ignoring {path}: written by another version of latentspin; the {what} starts afresh",
                   file=sys.stderr)
        return None
    if saved.get("fingerprint") != fingerprint:
        tqdm.write(f"ignoring {path}: it belongs to a different {what}; this one starts afresh", file=sys.stderr)
        return None
    return saved
