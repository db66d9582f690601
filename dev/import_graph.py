"""Draw the package's import graph, layer by layer: docs/import-graph.png.

    python dev/import_graph.py [--out docs/import-graph.png]

The graph is built by grimp (import-linter's own graph builder, installed with the test extras),
every import counted, also those inside functions; it is drawn with matplotlib. Each row is a
layer of pyproject.toml's layers contract, the top one importing from those below; each box is a
subpackage with its modules, and each arrow an import from one module to another (grey within a
subpackage, coloured by the importing subpackage across them). An arrow that points upward would
be a broken layer: `lint-imports` fails on it.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def layers() -> list[list[str]]:
    """The layers contract of pyproject.toml, top first, each a list of sibling packages."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    contract = next(c for c in config["contracts"] if c["type"] == "layers")
    return [[name.strip() for name in layer.split("|")] for layer in contract["layers"]]


def build_graph():
    sys.path.insert(0, str(ROOT / "workflow"))
    import grimp

    return grimp.build_graph("latentspin", cache_dir=None)


def draw(graph, out: Path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    rows = layers()
    # each package's modules, in a box; a package that is one module (cli, bench) is its own box
    boxes = {}
    for layer in rows:
        for package in layer:
            modules = sorted(m for m in graph.modules if m.startswith(package + ".") and graph.find_children(m) == set())
            boxes[package] = modules or [package]
    width = max(sum(len(boxes[p]) for p in layer) + len(layer) for layer in rows)
    fig, ax = plt.subplots(figsize=(1.55 * width + 1, 1.9 * len(rows) + 0.6))
    position, colour = {}, {}
    palette = plt.get_cmap("tab10")
    for row, layer in enumerate(rows):
        y = len(rows) - 1 - row
        total = sum(len(boxes[p]) for p in layer) + len(layer) - 1
        x = (width - total) / 2
        for k, package in enumerate(layer):
            mods = boxes[package]
            c = palette(len(colour) % 10)
            colour[package] = c
            ax.add_patch(FancyBboxPatch((x - 0.45, y - 0.32), len(mods) - 0.1, 0.78, boxstyle="round,pad=0.02",
                                        facecolor=(*c[:3], 0.12), edgecolor=c, linewidth=1.2))
            ax.text(x - 0.42, y + 0.36, package.removeprefix("latentspin."), fontsize=12, fontweight="bold",
                    color=c, va="bottom")
            for j, m in enumerate(mods):
                position[m] = (x + j, y)
                ax.text(x + j, y, m.rsplit(".", 1)[-1].replace("_", "_\n", 1) if len(m.rsplit(".", 1)[-1]) > 12
                        else m.rsplit(".", 1)[-1], fontsize=9, ha="center", va="center")
            x += len(mods) + 1
    package_of = {m: p for p, mods in boxes.items() for m in mods}
    edges = 0
    for importer in position:
        for imported in graph.find_modules_directly_imported_by(importer):
            if imported not in position or imported == importer:
                continue
            (x0, y0), (x1, y1) = position[importer], position[imported]
            same = package_of[importer] == package_of[imported]
            bend = 0.35 if same else 0.08
            ax.add_patch(FancyArrowPatch((x0, y0 - 0.12), (x1, y1 + 0.12), connectionstyle=f"arc3,rad={bend}",
                                         arrowstyle="-|>", mutation_scale=7, linewidth=0.6,
                                         color="0.6" if same else colour[package_of[importer]], alpha=0.55))
            edges += 1
    ax.set_xlim(-1, width)
    ax.set_ylim(-0.7, len(rows) - 0.2)
    ax.set_axis_off()
    ax.set_title(f"latentspin's import graph: {len(position)} modules, {edges} imports; each layer imports only "
                 "from the layers below it (pyproject.toml, lint-imports)", fontsize=10)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    print(f"wrote {out}: {len(position)} modules, {edges} imports")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "import-graph.png")
    args = p.parse_args(argv)
    draw(build_graph(), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
