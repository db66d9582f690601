"""Spin states as OVF 2.0 files, the vector-field format of OOMMF, mumax3, Spirit and ubermag
(docs/ovf.md).

What we write, one state per file: an OVF 2.0 file of one segment on a rectangular mesh of
xnodes = ynodes = L and znodes = 1 nodes, valuedim 3 (the unit spin's x, y, z components), the
lattice constant as the step in every direction (1 by default, in meshunit ``m``: the model is
dimensionless), the cell-centred origin (xbase = step / 2) and bounding box (0 … L · step) that
OOMMF and mumax3 write, and the data as ``Binary 8`` (the default), ``Binary 4`` or ``Text``.
Binary data are little-endian IEEE floats after the format's check value (1234567.0 in 4 bytes,
123456789012345.0 in 8). The records run over the nodes with x fastest, then y, then z, so that
our spins (3, L, L)[k, y, x] are written as ``spins.transpose(1, 2, 0).reshape(-1, 3)``: record
r = x + L·y.

What we read: any OVF 2.0 file of rectangular segments, with data ``Text``, ``Binary 4``,
``Binary 8`` (and Spirit's ``CSV`` extension), keys in any order and case, ``##`` comments. Every
segment of a file is one state: Spirit writes a chain of images as one file of several segments,
and each becomes a sample, in the file's order. The keys the data's layout depends on are
required (``meshtype``, ``valuedim``, ``xnodes``, ``ynodes``, ``znodes``); the others (title,
meshunit, bounds, origin, step sizes, labels, units) are optional here, since nothing we do
depends on positions: a node's place in the records is its place on the lattice. OVF 1.0
(big-endian, ``# OOMMF: rectangular mesh v1.0``) is refused with a message.

Every fault is one line naming the file: :class:`DamagedFile` for a file that is not readable OVF
2.0 (a missing key, a truncated block, a wrong check value, text that is not numbers),
:class:`DataError` for a readable file that is not a state of our lattice (valuedim ≠ 3,
znodes ≠ 1, a mesh that is not square or not L × L, non-finite values, spins that are not unit
vectors within SPIN_LENGTH_TOLERANCE).

The export (:func:`export_store`) writes the states of a split store or a trajectory store, one
file each. This module knows the format, the files and the stores only (no torch, no physics);
the physics of an imported state is measured by :mod:`latentspin.anneal.ovf_import`.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from latentspin.core.errors import ConfigError, DamagedFile, DataError
from latentspin.core.io import atomic
from latentspin.core.stores import CHUNK, SPIN_LENGTH_TOLERANCE, open_dataset, read_values

FIRST_LINE = "# OOMMF OVF 2.0"
# the data representations we write, by their command-line names
FORMATS = {"binary8": "Binary 8", "binary4": "Binary 4", "text": "Text"}
CHECK_VALUES = {4: 1234567.0, 8: 123456789012345.0}
REQUIRED_KEYS = ("meshtype", "valuedim", "xnodes", "ynodes", "znodes")
SUFFIXES = (".ovf", ".omf")  # OOMMF writes magnetization as .omf, the others .ovf


# --- writing -------------------------------------------------------------------------------------


def _number(value: float) -> str:
    return repr(float(value))


def _one_line(text: str) -> str:
    """A header value: one line, without the comment marker, in ASCII (what every reader of the
    format accepts; other characters become backslash escapes, e.g. ⟨S_z²⟩ -> \\u27e8S_z\\xb2\\u27e9)."""
    text = " ".join(str(text).replace("##", "#").split())
    return text.encode("ascii", "backslashreplace").decode("ascii")


def format_ovf(spins: np.ndarray, fmt: str = "binary8", *, title: str = "latentspin state",
               desc: Iterable[str] = (), step: float = 1.0, meshunit: str = "m") -> bytes:
    """The bytes of an OVF 2.0 file holding one state, spins (3, L, L) with axes (component, y, x),
    in `fmt` (binary8, binary4 or text); `desc` lines go into the header as ``Desc``. Text keeps
    every digit a float32 (9 significant digits) or a float64 (17) needs, so all three
    representations read back bitwise for float32 spins."""
    spins = np.asarray(spins)
    if fmt not in FORMATS:
        raise ValueError(f"unknown OVF data format {fmt!r}; expected one of {sorted(FORMATS)}")
    if spins.ndim != 3 or spins.shape[0] != 3:
        raise ValueError(f"a state has shape (3, ny, nx), got {spins.shape}")
    _, ny, nx = spins.shape
    representation = FORMATS[fmt]
    lines = [FIRST_LINE, "#", "# Segment count: 1", "#", "# Begin: Segment", "# Begin: Header", "#",
             f"# Title: {_one_line(title)}"]
    lines += [f"# Desc: {_one_line(d)}" for d in desc]
    lines += ["#", "# meshtype: rectangular", f"# meshunit: {_one_line(meshunit)}",
              "# xmin: 0", "# ymin: 0", "# zmin: 0",
              f"# xmax: {_number(nx * step)}", f"# ymax: {_number(ny * step)}", f"# zmax: {_number(step)}",
              "# valuedim: 3", "# valuelabels: m_x m_y m_z", "# valueunits: 1 1 1",
              *(f"# {axis}base: {_number(step / 2)}" for axis in "xyz"),
              f"# xnodes: {nx}", f"# ynodes: {ny}", "# znodes: 1",
              *(f"# {axis}stepsize: {_number(step)}" for axis in "xyz"),
              "# End: Header", "#", f"# Begin: Data {representation}"]
    head = ("\n".join(lines) + "\n").encode("ascii")
    records = spins.transpose(1, 2, 0).reshape(-1, 3)  # x fastest, then y
    if fmt == "text":
        digits = 9 if records.dtype == np.float32 else 17
        row = " ".join([f"%.{digits}g"] * 3)
        body = "\n".join(row % tuple(r) for r in records.tolist()).encode("ascii") + b"\n"
    else:
        size = 4 if fmt == "binary4" else 8
        dtype = np.dtype(f"<f{size}")
        values = np.concatenate([[CHECK_VALUES[size]], records.ravel()]).astype(dtype)
        body = values.tobytes() + b"\n"
    tail = f"# End: Data {representation}\n# End: Segment\n".encode("ascii")
    return head + body + tail


def write_ovf(path: str | Path, spins: np.ndarray, fmt: str = "binary8", **header) -> Path:
    """Write one state as an OVF 2.0 file (:func:`format_ovf`), whole or not at all."""
    data = format_ovf(spins, fmt, **header)
    with atomic(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


# --- reading -------------------------------------------------------------------------------------


@dataclass
class Segment:
    """One segment of a file: its header (keys lower-cased, without whitespace; ``desc`` a list)
    and its values (n_nodes, valuedim) as float64, nodes in the file's order."""

    header: dict = field(default_factory=dict)
    values: np.ndarray | None = None
    representation: str = ""


def _key(text: str) -> str:
    return re.sub(r"\s+", "", text).lower()


def _integer(header: dict, key: str, where: str) -> int:
    value = header[key]
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not (math.isfinite(number) and number == int(number) and number >= 1):
        raise DamagedFile(f"{where}: {key} is {value!r}, not a positive integer")
    return int(number)


class _Reader:
    """A cursor over a file's bytes, line by line, that can hand out raw bytes for a binary block."""

    def __init__(self, data: bytes, path: Path):
        self.data, self.pos, self.path = data, 0, path

    def line(self) -> str | None:
        if self.pos >= len(self.data):
            return None
        end = self.data.find(b"\n", self.pos)
        end = len(self.data) if end < 0 else end
        raw = self.data[self.pos:end]
        self.pos = end + 1
        return raw.rstrip(b"\r").decode("latin-1")

    def directives(self, where: str):
        """The header lines to come as (keyword, value, line), blank and comment lines skipped; a
        line that is not a header line outside a data block is refused, naming `where`. Lazy: a
        caller may read a data block from the reader between two of them."""
        while (line := self.line()) is not None:
            if not line.strip():
                continue
            if not line.lstrip().startswith("#"):
                raise DamagedFile(f"{where}: line {line[:60]!r} outside a data block")
            d = _directive(line)
            if d is not None:
                yield (*d, line)


def _directive(line: str) -> tuple[str, str] | None:
    """A header line ``# keyword: value`` as (keyword, value), comments removed; None for a blank
    or comment line. The value keeps its case."""
    body = line.lstrip()[1:]
    if body.startswith("#"):  # a ## comment line
        return None
    body = body.split("##", 1)[0]
    if not body.strip():
        return None
    keyword, _, value = body.partition(":")
    return _key(keyword), value.strip()


def parse_ovf(data: bytes, path: str | Path, L: int | None = None) -> list[Segment]:
    """The segments of an OVF 2.0 file's bytes, each checked, from its header before its data is
    read, to hold 3-vectors on a square single-layer mesh (of L × L nodes where L is given);
    `path` names the file in every message (and the segment, in a file of several)."""
    path = Path(path)
    reader = _Reader(data, path)
    first = reader.line()
    if first is None or _key(first) != _key(FIRST_LINE):
        if first is not None and "oommf" in first.lower() and "1.0" in first:
            raise DamagedFile(f"{path}: OVF 1.0 ({first.strip()!r}) is not read, only OVF 2.0: re-save the file as "
                              "OVF 2.0 (e.g. OOMMF's avf2ovf -format b8 -fileformat ovf 2)")
        shown = "an empty file" if first is None else repr(first[:60])
        raise DamagedFile(f"{path}: not an OVF 2.0 file: the first line is {shown}, not {FIRST_LINE!r}")
    declared, segments = None, []
    for keyword, value, line in reader.directives(str(path)):
        if keyword == "segmentcount":
            try:
                declared = int(value)
            except ValueError:
                raise DamagedFile(f"{path}: segment count {value!r} is not an integer") from None
        elif keyword == "begin" and _key(value) == "segment":
            where = str(path) if declared == 1 else f"{path}: segment {len(segments) + 1}"
            segments.append(_segment(reader, where, L))
        else:
            raise DamagedFile(f"{path}: unexpected line {line.strip()[:60]!r} outside a segment")
    if not segments:
        raise DamagedFile(f"{path}: the file holds no segment")
    if declared is not None and declared != len(segments):
        raise DamagedFile(f"{path}: the header declares {declared} segments, the file holds {len(segments)} "
                          "(cut short?)")
    return segments


def _segment(reader: _Reader, where: str, L: int | None) -> Segment:
    segment = Segment()
    in_header = False
    for keyword, value, line in reader.directives(where):
        if keyword == "begin" and _key(value) == "header":
            in_header = True
        elif keyword == "end" and _key(value) == "header":
            in_header = False
        elif keyword == "begin" and _key(value).startswith("data"):
            representation = " ".join(value.split()[1:]).lower()
            _check_header(segment.header, where, L)
            segment.representation = representation
            segment.values = _data(reader, segment.header, representation, where)
        elif keyword == "end" and _key(value) == "segment":
            if segment.values is None:
                raise DamagedFile(f"{where}: the segment has no data block")
            return segment
        elif in_header:
            if keyword == "desc":
                segment.header.setdefault("desc", []).append(value)
            else:
                segment.header[keyword] = value
        else:
            raise DamagedFile(f"{where}: unexpected line {line.strip()[:60]!r}")
    raise DamagedFile(f"{where}: the file ends inside the segment (no '# End: Segment'): it is cut short")


def _check_header(header: dict, where: str, L: int | None) -> None:
    """The keys the data's layout depends on, and a mesh that is a state of our lattice."""
    missing = [k for k in REQUIRED_KEYS if k not in header]
    if missing:
        raise DamagedFile(f"{where}: the header has no {', '.join(missing)} (required: {', '.join(REQUIRED_KEYS)})")
    if header["meshtype"].lower() != "rectangular":
        raise DataError(f"{where}: meshtype is {header['meshtype']!r}; only rectangular meshes hold a lattice")
    for key in ("valuedim", "xnodes", "ynodes", "znodes"):
        header[key] = _integer(header, key, where)
    if header["valuedim"] != 3:
        raise DataError(f"{where}: valuedim is {header['valuedim']}, not 3: not a field of spin vectors")
    if header["znodes"] != 1:
        raise DataError(f"{where}: znodes is {header['znodes']}, not 1: not a single layer")
    if header["xnodes"] != header["ynodes"]:
        raise DataError(f"{where}: the mesh is {header['xnodes']} x {header['ynodes']} nodes (xnodes x ynodes), "
                        "not square (L x L)")
    if L is not None and header["xnodes"] != L:
        raise DataError(f"{where}: the mesh is {header['xnodes']} x {header['ynodes']} nodes, the config's "
                        f"lattice.L is {L}")


_END_DATA = re.compile(rb"^[ \t]*#[ \t]*end[ \t]*:[ \t]*data", re.MULTILINE | re.IGNORECASE)
_HASH_LINE = re.compile(rb"^[ \t]*#.*$", re.MULTILINE)


def _data(reader: _Reader, header: dict, representation: str, where: str) -> np.ndarray:
    nodes = header["xnodes"] * header["ynodes"] * header["znodes"]
    count = nodes * header["valuedim"]
    shown = f"Data {representation.title()}"
    if representation in ("binary 4", "binary 8"):
        size = int(representation[-1])
        need = (count + 1) * size
        have = len(reader.data) - reader.pos
        if have < need:
            raise DamagedFile(f"{where}: the {shown} block holds {have} bytes, the header promises {need} "
                              f"({nodes} nodes x {header['valuedim']} values and the check value, {size} bytes "
                              "each): the file is cut short")
        values = np.frombuffer(reader.data, dtype=f"<f{size}", count=count + 1, offset=reader.pos)
        if values[0] != CHECK_VALUES[size]:
            big = np.frombuffer(reader.data, dtype=f">f{size}", count=1, offset=reader.pos)[0]
            hint = (" (big-endian: OVF 1.0 data in an OVF 2.0 file)" if big == CHECK_VALUES[size]
                    else " (the file is damaged or not OVF 2.0)")
            raise DamagedFile(f"{where}: the {shown} check value is {float(values[0])!r}, not "
                              f"{CHECK_VALUES[size]!r}{hint}")
        reader.pos += need
        end = reader.line()
        while end is not None and not end.strip():
            end = reader.line()
        if end is None or _directive(end) is None or _directive(end)[0] != "end":
            raise DamagedFile(f"{where}: no '# End: {shown}' after the {count} values the header promises "
                              f"({header['xnodes']} x {header['ynodes']} x {header['znodes']} nodes x "
                              f"{header['valuedim']}): the node count does not match the data")
        return values[1:].astype(np.float64).reshape(nodes, header["valuedim"])
    if representation not in ("text", "csv"):
        raise DamagedFile(f"{where}: unknown data representation {representation!r} (expected Text, Binary 4, "
                          "Binary 8)")
    # the block as one piece up to its end line: numbers, and at most ## comment lines
    found = _END_DATA.search(reader.data, reader.pos)
    stop = found.start() if found else len(reader.data)
    block = reader.data[reader.pos:stop]
    reader.pos = stop
    if found:
        reader.line()  # the end line
    if b"#" in block:
        for line in _HASH_LINE.findall(block):
            if _directive(line.decode("latin-1")) is not None:
                raise DamagedFile(f"{where}: unexpected line {line.decode('latin-1').strip()[:60]!r} in the "
                                  f"{shown} block")
        block = _HASH_LINE.sub(b"", block)
    tokens = block.replace(b",", b" ").split()
    if len(tokens) != count or not found:
        cut = "" if found else "; the file ends inside the block: it is cut short"
        raise DamagedFile(f"{where}: the {shown} block holds {len(tokens)} values, the header promises {count} "
                          f"({nodes} nodes x {header['valuedim']}){cut}")
    try:
        values = np.array(tokens, dtype=np.float64)
    except ValueError:
        bad = next(t for t in tokens if not _is_number(t)).decode("latin-1")
        raise DamagedFile(f"{where}: the {shown} block holds {bad[:30]!r}, not a number") from None
    return values.reshape(nodes, header["valuedim"])


def _is_number(token: bytes) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def segment_spins(segment: Segment) -> np.ndarray:
    """A segment's values as a state (3, L, L) with axes (component, y, x), float64: record
    r = x + L·y holds the spin at (y, x)."""
    n = segment.header["xnodes"]
    return segment.values.reshape(n, n, 3).transpose(2, 0, 1)


def check_unit_spins(spins: np.ndarray, where: str, tolerance: float = SPIN_LENGTH_TOLERANCE) -> None:
    """Every spin of a state (3, L, L) finite and of unit length within `tolerance`, else a
    :class:`DataError` naming the first bad node (x, y, z) and its data record (from 1)."""
    finite = np.isfinite(spins).all(axis=0)
    length = np.sqrt((spins.astype(np.float64) ** 2).sum(axis=0))
    bad = ~finite | ~(np.abs(length - 1) <= tolerance)
    if not bad.any():
        return
    y, x = (int(v) for v in np.argwhere(bad)[0])  # row-major over (y, x): the file's record order
    L = spins.shape[-1]
    value = spins[:, y, x]
    node = f"node (x, y, z) = ({x}, {y}, 0) (data record {x + L * y + 1})"
    if not finite[y, x]:
        raise DataError(f"{where}: {node} is not finite: {value.tolist()}")
    raise DataError(f"{where}: {node} has length {length[y, x]:.6g}, not 1 within {tolerance:g}: {value.tolist()} "
                    "(spins must be unit vectors; a file of M in A/m must be divided by Ms first)")


def read_ovf(path: str | Path, L: int | None = None, data: bytes | None = None) -> np.ndarray:
    """The states of an OVF 2.0 file, (segments, 3, L, L) float64, axes (component, y, x): every
    segment a square single-layer lattice (L × L where L is given) of finite unit spins. `data`:
    the file's bytes, where the caller has read them already."""
    path = Path(path)
    if data is None:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise DataError(f"{path}: no such file") from None
    segments = parse_ovf(data, path, L)
    states = []
    for number, segment in enumerate(segments, 1):
        state = segment_spins(segment)
        check_unit_spins(state, f"{path}: segment {number}" if len(segments) > 1 else str(path))
        states.append(state)
    return np.stack(states)


# --- folders and provenance ----------------------------------------------------------------------


def ovf_files(folder: str | Path) -> list[Path]:
    """The OVF files (*.ovf, *.omf, any case) directly in `folder`, sorted by name: the order of
    the samples they become."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: no such folder of OVF files")
    files = sorted((p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES),
                   key=lambda p: p.name)
    if not files:
        raise DataError(f"{folder}: the folder holds no OVF files ({', '.join('*' + s for s in SUFFIXES)})")
    return files


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def combined_digest(names: Sequence[str], digests: Sequence[str]) -> str:
    """One SHA-256 of a set of files: of each file's name and SHA-256, in order. It changes when
    a file is added, removed, renamed or changed."""
    h = hashlib.sha256()
    for name, digest in zip(names, digests, strict=True):
        h.update(f"{name}\0{digest}\n".encode())
    return h.hexdigest()


# --- stores out as files -------------------------------------------------------------------------

# the states a trajectory store holds (explore.search), by the name --states takes
TRAJECTORY_STATES = ("initial", "final", "relaxed", "kicked", "level", "snapshot")


def parse_indices(spec: str) -> list[int]:
    """Sample indices from a list of numbers and inclusive ranges, e.g. ``0-9,15,20-22``."""
    indices: list[int] = []
    for part in spec.split(","):
        part = part.strip()
        match = re.fullmatch(r"(\d+)(?:\s*-\s*(\d+))?", part)
        if not match or (match[2] is not None and int(match[2]) < int(match[1])):
            raise ConfigError(f"--samples {spec!r}: {part!r} is not an index or a range FIRST-LAST of indices")
        first = int(match[1])
        indices.extend(range(first, int(match[2] if match[2] is not None else first) + 1))
    return list(dict.fromkeys(indices))


def _describe(values: dict, names: Iterable[str]) -> str:
    return ", ".join(f"{name} = {float(values[name]):.10g}" for name in names if name in values)


def _physics(attrs: dict) -> str:
    keys = [k for k in ("J", "D", "dmi", "B", "L") if k in attrs]
    return ", ".join(f"{k} = {attrs[k]}" for k in keys)


def _split_states(ds, path: Path, samples: Sequence[int] | None):
    available = ds["sample"].values
    if samples is None:
        positions = np.arange(len(available))
    else:
        where = {int(k): i for i, k in enumerate(available)}
        missing = [k for k in samples if k not in where]
        if missing:
            raise DataError(f"{path}: holds no sample {missing[0]} (its samples are {available[0]}..{available[-1]})")
        positions = np.array([where[k] for k in samples], dtype=int)
    stem = path.name.removesuffix(".zarr")
    physics = _physics(dict(ds.attrs))
    observables = {k: read_values(ds, k, path) for k in ("energy", "W", "Mz") if k in ds}
    for start in range(0, len(positions), CHUNK):  # a chunk of the store read once
        batch = positions[start:start + CHUNK]
        spins = read_values(ds, "spins", path, {"sample": batch})
        for i, state in zip(batch, spins):
            k = int(available[i])
            values = {name: v[i] for name, v in observables.items()}
            yield (f"{stem}_{k:06d}.ovf", f"{path.name} sample {k}", state,
                   [f"{path} sample {k}", physics, _describe(values, ("energy", "W", "Mz"))])


def _trajectory_states(ds, path: Path, kinds: Sequence[str]):
    attrs = dict(ds.attrs)
    run = ", ".join(f"{k} {attrs[k]}" for k in ("algorithm", "objective", "beta") if k in attrs)
    label = f"{attrs['algorithm']}/{attrs['objective']}" if {"algorithm", "objective"} <= attrs.keys() else path.name
    physics = _physics(attrs)

    read: dict[str, np.ndarray] = {}

    def metrics(prefix: str, index) -> str:
        values = {}
        for name in ("objective", "energy", "W", "Mz"):
            var = f"{prefix}_{name}"
            if var in ds:
                if var not in read:
                    read[var] = read_values(ds, var, path)
                values[name] = read[var][index]
        return _describe(values, ("objective", "energy", "W", "Mz"))

    for kind in kinds:
        if kind in ("initial", "final", "relaxed", "kicked"):
            spins = read_values(ds, f"{kind}_spins", path)
            for i in range(len(spins)):
                yield (f"{kind}_{i:03d}.ovf", f"{label} {kind} state {i}", spins[i],
                       [f"{path} ({run}): {kind} state {i}", physics, metrics(kind, i)])
        elif kind == "level":
            spins = read_values(ds, "level_spins", path)
            gamma = read_values(ds, "level_gamma", path) if "level_gamma" in ds else None
            for level in range(spins.shape[0]):
                for j in range(spins.shape[1]):
                    at = f", gamma = {float(gamma[level]):g}" if gamma is not None else ""
                    yield (f"level{level:02d}_sample{j}.ovf", f"{label} gamma level {level} sample {j}",
                           spins[level, j], [f"{path} ({run}): gamma level {level}{at}, decoded sample {j}",
                                             physics, metrics("level", (level, j))])
        elif kind == "snapshot":
            spins = read_values(ds, "snapshot_spins", path)
            generations = ds["snapshot"].values
            for i, generation in enumerate(generations):
                yield (f"snapshot_{int(generation):06d}.ovf", f"{label} generation {int(generation)}",
                       spins[i], [f"{path} ({run}): best individual of generation {int(generation)}", physics])


def export_store(store: str | Path, out_dir: str | Path, *, fmt: str = "binary8", samples: Sequence[int] | None = None,
                 states: Sequence[str] | None = None, step: float = 1.0, progress: bool = True) -> list[Path]:
    """Write stored states as OVF files in `out_dir`, one file per state, each whole or not at all:
    samples of a split store (all, or the indices `samples`) as ``{split}_{k:06d}.ovf`` (k the
    sample's index in its split), or the states of a trajectory store (`states` of
    TRAJECTORY_STATES, default every kind it holds) as ``initial_000.ovf``, ``final_000.ovf``,
    ``relaxed_000.ovf`` (one per state), ``level03_sample1.ovf`` (γ level, decoded sample) and
    ``snapshot_000050.ovf`` (generation). Returns the files written."""
    from tqdm import tqdm

    store, out_dir = Path(store), Path(out_dir)
    if fmt not in FORMATS:
        raise ConfigError(f"unknown OVF data format {fmt!r}; expected one of {', '.join(FORMATS)}")
    ds = open_dataset(store)
    if "spins" in ds and ds["spins"].dims == ("sample", "component", "y", "x"):
        if states is not None:
            raise ConfigError(f"{store} is a data split: choose its samples with --samples, not --states")
        items = _split_states(ds, store, samples)
        total = len(ds["sample"]) if samples is None else len(samples)
    elif any(f"{kind}_spins" in ds for kind in TRAJECTORY_STATES):
        if samples is not None:
            raise ConfigError(f"{store} is a trajectory store: choose its states with --states, not --samples")
        present = [kind for kind in TRAJECTORY_STATES if f"{kind}_spins" in ds]
        unknown = [k for k in (states or ()) if k not in TRAJECTORY_STATES]
        if unknown:
            raise ConfigError(f"--states {unknown[0]!r}: expected some of {', '.join(TRAJECTORY_STATES)}")
        absent = [k for k in (states or ()) if k not in present]
        if absent:
            raise DataError(f"{store}: holds no {absent[0]} states (it holds {', '.join(present)})")
        kinds = list(states or present)
        items = _trajectory_states(ds, store, kinds)
        total = None
    else:
        raise DataError(f"{store}: neither a data split (spins with dimensions sample, component, y, x) nor a "
                        "trajectory store (initial_spins, final_spins, ...): nothing to export")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, title, spins, desc in tqdm(items, total=total, desc=f"export {store.name}", unit="state",
                                         disable=not progress):
        desc = [*desc, "spins (component, y, x)[k, y, x] = data record x + L y (x fastest)", "written by latentspin"]
        written.append(write_ovf(out_dir / name, spins, fmt, title=title, desc=[d for d in desc if d], step=step))
    return written
