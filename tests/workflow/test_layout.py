"""The package's layout holds: layers import only downward and no subpackage has an import cycle
(import-linter's contracts in pyproject.toml), and the check fails when either is broken."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("importlinter", reason="import-linter checks the layout: pip install -e '.[test]'")


def lint_imports(root: Path, package_dir: Path) -> subprocess.CompletedProcess:
    """`lint-imports` on the latentspin found in package_dir, with root's pyproject.toml."""
    code = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
    return subprocess.run([sys.executable, "-c", code, "--config", str(root / "pyproject.toml"), "--no-cache"],
                          cwd=package_dir, env={"PYTHONPATH": str(package_dir), "PATH": ""},
                          capture_output=True, text=True, timeout=120)


def test_the_package_keeps_its_layers_and_has_no_cycles(root):
    r = lint_imports(root, root / "workflow")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert "2 kept, 0 broken" in r.stdout


@pytest.fixture
def package_copy(root, tmp_path) -> Path:
    shutil.copytree(root / "workflow" / "latentspin", tmp_path / "latentspin",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def _append(path: Path, line: str):
    path.write_text(path.read_text() + f"\n{line}\n")


def test_an_upward_import_breaks_the_layers(root, package_copy):
    """The shared core importing a figure module (a stage above it) is refused, naming both."""
    _append(package_copy / "latentspin/core/io.py", "from latentspin.figures import style  # noqa")
    r = lint_imports(root, package_copy)
    assert r.returncode == 1
    assert "BROKEN" in r.stdout and "latentspin.core.io -> latentspin.figures.style" in r.stdout


def test_an_import_between_independent_siblings_breaks_the_layers(root, package_copy):
    """anneal and vae share a layer as independent siblings: neither may import the other."""
    _append(package_copy / "latentspin/vae/training.py", "from latentspin.anneal import schedule  # noqa")
    r = lint_imports(root, package_copy)
    assert r.returncode == 1 and "latentspin.vae.training -> latentspin.anneal.schedule" in r.stdout


def test_a_cycle_inside_a_subpackage_is_refused(root, package_copy):
    """The annealing driver imports its kernels; a kernel importing the driver back is a cycle."""
    _append(package_copy / "latentspin/anneal/heatbath_torch.py", "from latentspin.anneal import driver  # noqa")
    r = lint_imports(root, package_copy)
    assert r.returncode == 1 and "no import cycles" in r.stdout and "BROKEN" in r.stdout
