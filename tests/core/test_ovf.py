"""OVF 2.0 files (latentspin.core.ovf): our files read back bitwise, records in the format's node
order (x fastest), files of an independent implementation (Spirit) read in the right places and
ours read by it, and every bad file stopped with one line naming it."""

import re

import numpy as np
import pytest
from latentspin.core import ovf
from latentspin.core.errors import ConfigError, DamagedFile, DataError
from latentspin.core.stores import make_dataset, write_zarr

L = 8


def asymmetric_state(L: int = L, ny: int | None = None, dtype=np.float32) -> np.ndarray:
    """Unit spins (3, ny, L) whose angles depend on x and y differently: a transposed or
    mirrored node order reads as another state."""
    ny = L if ny is None else ny
    y, x = np.meshgrid(np.arange(ny), np.arange(L), indexing="ij")
    theta = 0.3 + 0.37 * x + 0.05 * y**2
    phi = 0.9 * y - 0.21 * x
    spins = np.stack([np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)])
    return spins.astype(dtype)


@pytest.mark.parametrize("fmt", ["binary8", "binary4", "text"])
def test_float32_states_read_back_bitwise_in_every_representation(tmp_path, fmt):
    spins = asymmetric_state()
    path = ovf.write_ovf(tmp_path / f"s.{fmt}.ovf", spins, fmt)
    back = ovf.read_ovf(path, L=L)
    assert back.shape == (1, 3, L, L) and back.dtype == np.float64
    assert np.array_equal(back[0].astype(np.float32), spins)  # what a split stores
    if fmt != "text":  # binary holds the float32 values themselves; text the 9 digits that name them
        assert np.array_equal(back[0], spins.astype(np.float64))
    else:
        assert np.abs(back[0] - spins).max() < 5e-9


@pytest.mark.parametrize("fmt", ["binary8", "text"])
def test_float64_states_read_back_bitwise_in_binary8_and_text(tmp_path, fmt):
    spins = asymmetric_state(dtype=np.float64)
    back = ovf.read_ovf(ovf.write_ovf(tmp_path / "s.ovf", spins, fmt))[0]
    assert np.array_equal(back, spins)


def test_float64_states_in_binary4_keep_float32_precision(tmp_path):
    spins = asymmetric_state(dtype=np.float64)
    back = ovf.read_ovf(ovf.write_ovf(tmp_path / "s.ovf", spins, "binary4"))[0]
    assert np.array_equal(back, spins.astype(np.float32).astype(np.float64))
    assert 0 < np.abs(back - spins).max() < 1e-7


def test_records_run_x_fastest_after_the_check_value(tmp_path):
    """Read with nothing of ours: the bytes after '# Begin: Data Binary 8' are the check value,
    then record r = x + L y holding the spin at (y, x)."""
    spins = asymmetric_state()
    raw = ovf.write_ovf(tmp_path / "s.ovf", spins).read_bytes()
    start = raw.index(b"# Begin: Data Binary 8\n") + len(b"# Begin: Data Binary 8\n")
    values = np.frombuffer(raw, dtype="<f8", count=1 + 3 * L * L, offset=start)
    assert values[0] == 123456789012345.0
    records = values[1:].reshape(-1, 3)
    for y, x in ((0, 1), (1, 0), (3, 5), (7, 2)):
        assert np.array_equal(records[x + L * y], spins[:, y, x].astype(np.float64))
    assert raw[start + values.nbytes:] == b"\n# End: Data Binary 8\n# End: Segment\n"
    binary4 = ovf.write_ovf(tmp_path / "s4.ovf", spins, "binary4").read_bytes()
    start4 = binary4.index(b"Binary 4\n") + len(b"Binary 4\n")
    assert binary4[start4:start4 + 4] == bytes.fromhex("38B49649")  # 1234567.0, little-endian
    text = ovf.write_ovf(tmp_path / "t.ovf", spins, "text").read_text().splitlines()
    first = text.index("# Begin: Data Text") + 1
    assert np.array_equal(np.array(text[first + 5 + L * 3].split(), dtype=np.float32), spins[:, 3, 5])


def test_header_describes_the_lattice(tmp_path):
    text = ovf.write_ovf(tmp_path / "s.ovf", asymmetric_state(), "text", title="a title", desc=["one", "two"],
                         step=2.5).read_text()
    header = dict(re.findall(r"^# (\w+): (.*)$", text, flags=re.MULTILINE))
    assert text.startswith("# OOMMF OVF 2.0\n")
    assert header["meshtype"] == "rectangular" and header["valuedim"] == "3"
    assert (header["xnodes"], header["ynodes"], header["znodes"]) == (str(L), str(L), "1")
    assert float(header["xstepsize"]) == 2.5 and float(header["xbase"]) == 1.25
    assert float(header["xmax"]) == L * 2.5 and float(header["zmax"]) == 2.5
    assert header["Title"] == "a title" and text.count("# Desc: ") == 2


def test_a_header_in_other_characters_than_ascii_is_written_in_ascii(tmp_path):
    """The readers of the format expect ASCII headers: a title such as ⟨S_z²⟩ is kept, escaped."""
    path = ovf.write_ovf(tmp_path / "s.ovf", asymmetric_state(), title="max ⟨S_z²⟩", desc=["ε = -2.04"])
    head = path.read_bytes().split(b"# Begin: Data")[0]
    assert head.isascii() and b"# Title: max \\u27e8S_z\\xb2\\u27e9" in head and b"# Desc: \\u03b5 = -2.04" in head
    np.testing.assert_array_equal(ovf.read_ovf(path)[0], asymmetric_state())


def test_a_file_of_several_segments_reads_as_several_states(tmp_path):
    a, b = asymmetric_state(), asymmetric_state()[:, ::-1, :].copy()
    blocks = [ovf.format_ovf(s, fmt).decode("latin-1") for s, fmt in ((a, "binary8"), (b, "text"))]
    segments = [block[block.index("# Begin: Segment"):] for block in blocks]
    path = tmp_path / "chain.ovf"
    path.write_bytes(("# OOMMF OVF 2.0\n# Segment count: 2\n" + "".join(segments)).encode("latin-1"))
    back = ovf.read_ovf(path, L=L)
    assert back.shape == (2, 3, L, L)
    assert np.array_equal(back[0], a) and np.array_equal(back[1].astype(np.float32), b)  # binary 8, text


def test_keys_in_any_case_and_order_with_comments(tmp_path):
    spins = asymmetric_state()
    text = ovf.format_ovf(spins, "text").decode()
    text = text.replace("# xnodes:", "#   XNodes :").replace("# valuedim: 3", "## a comment\n# ValueDim: 3  ## three")
    text = text.replace("# Begin: Data Text\n", "# begin: data text\n## a comment among the data\n")
    path = tmp_path / "s.ovf"
    path.write_text(text.replace("\n", "\r\n"))
    assert np.array_equal(ovf.read_ovf(path, L=L)[0].astype(np.float32), spins)


# --- an independent implementation: Spirit (spin simulation framework, its own OVF library) ------


@pytest.fixture(scope="module")
def spirit_state(tmp_path_factory):
    spirit = pytest.importorskip("spirit", reason="Spirit (pip install spirit) is the independent OVF reader and "
                                                  "writer of these tests")
    from spirit import state

    cfg = tmp_path_factory.mktemp("spirit") / "lattice.cfg"
    cfg.write_text(f"bravais_lattice sc\nn_basis_cells {L} {L} 1\n")
    with state.State(str(cfg), quiet=True) as p:
        yield spirit, p


def _spirit_order(spirit, p, spins):
    """Our state (3, L, L) as Spirit's (N, 3) array, placed by Spirit's own site positions."""
    from spirit import geometry

    positions = np.rint(geometry.get_positions(p)).astype(int)
    return np.array([spins[:, y, x] for x, y, _ in positions])


@pytest.mark.parametrize("fmt", ["binary8", "binary4", "text"])
def test_spirit_reads_our_files_in_the_right_places(tmp_path, spirit_state, fmt):
    spirit, p = spirit_state
    from spirit import io, system

    spins = asymmetric_state()
    path = ovf.write_ovf(tmp_path / "ours.ovf", spins, fmt)
    system.get_spin_directions(p)[:] = 0
    io.image_read(p, str(path))
    read = system.get_spin_directions(p)
    # Spirit normalizes what it reads: our float32 unit vectors move by their rounding, 6e-8
    assert np.abs(read - _spirit_order(spirit, p, spins)).max() < 1e-6


@pytest.mark.parametrize("name", ["OVF_TEXT", "OVF_BIN4", "OVF_BIN8", "OVF_CSV"])
def test_we_read_spirits_files_in_the_right_places(tmp_path, spirit_state, name):
    spirit, p = spirit_state
    from spirit import io, system

    spins = asymmetric_state(dtype=np.float64)
    spins /= np.linalg.norm(spins, axis=0)
    system.get_spin_directions(p)[:] = _spirit_order(spirit, p, spins)
    path = tmp_path / f"spirit_{name}.ovf"
    io.image_write(p, str(path), getattr(io, f"FILEFORMAT_{name}"))
    back = ovf.read_ovf(path, L=L)
    tolerance = 1e-7 if name == "OVF_BIN4" else 1e-11  # float32; text of 12 decimals
    assert back.shape == (1, 3, L, L) and np.abs(back[0] - spins).max() < tolerance


def test_we_read_a_spirit_chain_as_several_states(tmp_path, spirit_state):
    spirit, p = spirit_state
    from spirit import io, system

    first = asymmetric_state(dtype=np.float64)
    second = first[:, :, ::-1].copy()
    path = tmp_path / "chain.ovf"
    system.get_spin_directions(p)[:] = _spirit_order(spirit, p, first)
    io.image_write(p, str(path), io.FILEFORMAT_OVF_BIN8)
    system.get_spin_directions(p)[:] = _spirit_order(spirit, p, second)
    io.image_append(p, str(path), io.FILEFORMAT_OVF_BIN8)
    back = ovf.read_ovf(path, L=L)
    assert back.shape == (2, 3, L, L)
    assert np.abs(back[0] - first).max() < 1e-12 and np.abs(back[1] - second).max() < 1e-12


# --- a second one: ubermag's discretisedfield (pure Python; 600 MB with vtk, so not a test extra) -----


@pytest.fixture(scope="module")
def discretisedfield():
    return pytest.importorskip("discretisedfield", reason="discretisedfield (pip install discretisedfield, which "
                                                          "brings vtk and pyvista) is a second independent reader")


@pytest.mark.parametrize("fmt", ["binary8", "binary4", "text"])
def test_discretisedfield_reads_our_files_in_the_right_places(tmp_path, discretisedfield, fmt):
    spins = asymmetric_state()
    field = discretisedfield.Field.from_file(str(ovf.write_ovf(tmp_path / "ours.ovf", spins, fmt)))
    assert field.array.shape == (L, L, 1, 3)  # indexed [x, y, z, component]
    assert np.array_equal(field.array[:, :, 0, :].transpose(2, 1, 0).astype(np.float32), spins)
    assert np.allclose(field.mesh.cell, 1) and np.allclose(field.mesh.region.pmax, (L, L, 1))


@pytest.mark.parametrize("representation", ["txt", "bin4", "bin8"])
def test_we_read_discretisedfields_files_in_the_right_places(tmp_path, discretisedfield, representation):
    spins = asymmetric_state(dtype=np.float64)
    mesh = discretisedfield.Mesh(p1=(0, 0, 0), p2=(L, L, 1), cell=(1, 1, 1))
    field = discretisedfield.Field(mesh, nvdim=3, value=spins.transpose(2, 1, 0)[:, :, None, :])
    field.to_file(str(tmp_path / "theirs.ovf"), representation=representation)
    back = ovf.read_ovf(tmp_path / "theirs.ovf", L=L)[0]
    assert np.abs(back - spins).max() < (1e-7 if representation == "bin4" else 1e-15)


# --- bad files: one line naming the file and the fault -----------------------------------------


def _fails(path, error, pattern, L=L):
    with pytest.raises(error) as info:
        ovf.read_ovf(path, L=L)
    message = str(info.value)
    assert message.startswith(str(path)) and "\n" not in message, message
    assert re.search(pattern, message), message
    return message


def test_a_mesh_of_another_size_is_refused(tmp_path):
    path = ovf.write_ovf(tmp_path / "small.ovf", asymmetric_state(L=4))
    _fails(path, DataError, r"the mesh is 4 x 4 nodes, the config's lattice\.L is 8")


def test_a_mesh_that_is_not_square_is_refused(tmp_path):
    path = ovf.write_ovf(tmp_path / "wide.ovf", asymmetric_state(L=8, ny=4))
    _fails(path, DataError, r"the mesh is 8 x 4 nodes \(xnodes x ynodes\), not square", L=None)


def test_several_layers_are_refused(tmp_path):
    spins = asymmetric_state()
    text = ovf.format_ovf(spins, "text").decode()
    head, data = text.split("# Begin: Data Text\n")
    rows, tail = data.split("# End: Data Text\n")
    path = tmp_path / "layers.ovf"  # a true two-layer file: the data match the header
    path.write_text(head.replace("# znodes: 1", "# znodes: 2") + "# Begin: Data Text\n" + rows * 2
                    + "# End: Data Text\n" + tail)
    _fails(path, DataError, r"znodes is 2, not 1")


def test_a_scalar_field_is_refused(tmp_path):
    text = ovf.format_ovf(asymmetric_state(), "text").decode()
    head, data = text.split("# Begin: Data Text\n")
    rows, tail = data.split("# End: Data Text\n")
    scalars = "\n".join(line.split()[2] for line in rows.splitlines()) + "\n"
    path = tmp_path / "energy.ovf"
    path.write_text(head.replace("# valuedim: 3", "# valuedim: 1") + "# Begin: Data Text\n" + scalars
                    + "# End: Data Text\n" + tail)
    _fails(path, DataError, r"valuedim is 1, not 3")


@pytest.mark.parametrize("fmt, size", [("binary8", 8), ("binary4", 4)])
def test_a_truncated_binary_block_is_refused(tmp_path, fmt, size):
    raw = ovf.format_ovf(asymmetric_state(), fmt)
    path = tmp_path / "cut.ovf"
    path.write_bytes(raw[:raw.index(b"Binary") + 200])
    _fails(path, DamagedFile, rf"the Data Binary {size} block holds \d+ bytes, the header promises "
                              rf"{(3 * L * L + 1) * size} .*cut short")


def test_a_truncated_text_block_is_refused(tmp_path):
    raw = ovf.format_ovf(asymmetric_state(), "text")
    path = tmp_path / "cut.ovf"
    path.write_bytes(raw[:len(raw) // 2])
    _fails(path, DamagedFile, rf"the Data Text block holds \d+ values, the header promises {3 * L * L} .*cut short")


def test_a_wrong_check_value_is_refused(tmp_path):
    raw = bytearray(ovf.format_ovf(asymmetric_state(), "binary4"))
    start = raw.index(b"Binary 4\n") + len(b"Binary 4\n")
    raw[start:start + 4] = bytes.fromhex("4996B438")  # big-endian 1234567.0, as OVF 1.0 writes it
    path = tmp_path / "endian.ovf"
    path.write_bytes(bytes(raw))
    _fails(path, DamagedFile, r"the Data Binary 4 check value is .*, not 1234567\.0 \(big-endian")
    raw[start:start + 4] = np.float32(1.0).tobytes()
    path.write_bytes(bytes(raw))
    _fails(path, DamagedFile, r"check value is 1\.0, not 1234567\.0 \(the file is damaged")


def test_non_unit_spins_are_refused_naming_the_first_bad_node(tmp_path):
    spins = asymmetric_state()
    spins[:, 3, 5] *= 1.001  # 1e-3 off
    spins[:, 6, 1] *= 2.0
    path = ovf.write_ovf(tmp_path / "long.ovf", spins)
    _fails(path, DataError, r"node \(x, y, z\) = \(5, 3, 0\) \(data record 30\) has length 1\.001, not 1 within "
                            r"0\.0001")
    spins[:, 3, 5] /= 1.001  # 1e-7 off: float32 rounding, accepted
    path = ovf.write_ovf(tmp_path / "long.ovf", spins)
    _fails(path, DataError, r"node \(x, y, z\) = \(1, 6, 0\) .* has length 2,")


def test_non_finite_spins_are_refused(tmp_path):
    spins = asymmetric_state()
    spins[1, 2, 4] = np.nan
    path = ovf.write_ovf(tmp_path / "nan.ovf", spins, "text")
    _fails(path, DataError, r"node \(x, y, z\) = \(4, 2, 0\) \(data record 21\) is not finite: \[.*nan")


def test_a_header_without_a_required_key_is_refused(tmp_path):
    text = ovf.format_ovf(asymmetric_state(), "binary8")
    path = tmp_path / "nokey.ovf"
    path.write_bytes(re.sub(rb"# ynodes: \d+\n", b"", text))
    _fails(path, DamagedFile, r"the header has no ynodes \(required: meshtype, valuedim, xnodes, ynodes, znodes\)")


def test_other_bad_files_are_refused(tmp_path):
    path = tmp_path / "old.omf"
    path.write_text("# OOMMF: rectangular mesh v1.0\n")
    _fails(path, DamagedFile, r"OVF 1\.0 .* is not read, only OVF 2\.0")
    path.write_text("x y z\n")
    _fails(path, DamagedFile, r"not an OVF 2\.0 file: the first line is 'x y z'")
    text = ovf.format_ovf(asymmetric_state(), "text").decode()
    path.write_text(text.replace("0.3", "0.3x", 1).replace("Title: latentspin state", "Title: t"))
    _fails(path, DamagedFile, r"the Data Text block holds '-?0\.3x\d*', not a number")
    path.write_text(text.replace("Segment count: 1", "Segment count: 2"))
    _fails(path, DamagedFile, r"the header declares 2 segments, the file holds 1")


def test_a_folder_without_ovf_files_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("no OVF here")
    with pytest.raises(DataError, match=rf"^{re.escape(str(tmp_path))}: the folder holds no OVF files"):
        ovf.ovf_files(tmp_path)
    with pytest.raises(DataError, match=r"no such folder"):
        ovf.ovf_files(tmp_path / "missing")
    for name in ("b.OVF", "a.omf", "c.ovf"):
        (tmp_path / name).write_bytes(b"")
    assert [p.name for p in ovf.ovf_files(tmp_path)] == ["a.omf", "b.OVF", "c.ovf"]


# --- stores out as files -------------------------------------------------------------------------


def test_a_split_exports_the_chosen_samples_as_named_files(tmp_path):
    states = np.stack([asymmetric_state(), asymmetric_state()[:, ::-1].copy(), asymmetric_state()[:, :, ::-1].copy()])
    obs = {"energy": np.array([-1.5, -1.6, -1.7]), "W": np.zeros(3), "Mz": np.array([0.1, 0.2, 0.3])}
    store = write_zarr(make_dataset(states, range(3), obs, {"J": 1.0, "D": 0.3, "dmi": "bloch", "L": L, "seed": 1}),
                       tmp_path / "train.zarr")
    written = ovf.export_store(store, tmp_path / "out", samples=ovf.parse_indices("2,0"), progress=False)
    assert [p.name for p in written] == ["train_000002.ovf", "train_000000.ovf"]
    assert np.array_equal(ovf.read_ovf(written[0], L=L)[0], states[2])
    assert np.array_equal(ovf.read_ovf(written[1], L=L)[0], states[0])
    header = written[0].read_text(errors="replace")
    assert f"# Desc: {store} sample 2" in header and "energy = -1.7, W = 0, Mz = 0.3" in header
    assert "# Title: train.zarr sample 2" in header
    assert not list((tmp_path / "out").glob(".*"))  # no temporary file left
    assert len(ovf.export_store(store, tmp_path / "all", fmt="text", progress=False)) == 3
    with pytest.raises(DataError, match=r"train\.zarr: holds no sample 7 \(its samples are 0\.\.2\)"):
        ovf.export_store(store, tmp_path / "out", samples=[7], progress=False)


def test_a_trajectory_exports_its_final_relaxed_and_level_states(tmp_path):
    import xarray as xr

    a, b = asymmetric_state(), asymmetric_state()[:, ::-1].copy()
    levels = np.stack([np.stack([a, b]), np.stack([b, a])])  # (level, level_state, 3, L, L)
    ds = xr.Dataset({"final_spins": (("state", "component", "y", "x"), a[None]),
                     "relaxed_spins": (("state", "component", "y", "x"), b[None]),
                     "final_energy": ("state", [-1.9]), "final_W": ("state", [1.0]),
                     "level_spins": (("level", "level_state", "component", "y", "x"), levels),
                     "level_gamma": ("level", [1.0, 0.1]),
                     "level_energy": (("level", "level_sample"), np.ones((2, 4)))},
                    attrs={"algorithm": "stochastic", "objective": "Mz", "L": L})
    store = write_zarr(ds, tmp_path / "trajectory.zarr")
    written = ovf.export_store(store, tmp_path / "out", progress=False)
    assert sorted(p.name for p in written) == ["final_000.ovf", "level00_sample0.ovf", "level00_sample1.ovf",
                                               "level01_sample0.ovf", "level01_sample1.ovf", "relaxed_000.ovf"]
    out = tmp_path / "out"
    assert np.array_equal(ovf.read_ovf(out / "final_000.ovf")[0], a)
    assert np.array_equal(ovf.read_ovf(out / "relaxed_000.ovf")[0], b)
    assert np.array_equal(ovf.read_ovf(out / "level01_sample0.ovf")[0], b)
    header = (out / "final_000.ovf").read_text(errors="replace")
    assert "# Title: stochastic/Mz final state 0" in header and "energy = -1.9, W = 1" in header
    only = ovf.export_store(store, tmp_path / "only", states=["relaxed"], progress=False)
    assert [p.name for p in only] == ["relaxed_000.ovf"]
    with pytest.raises(DataError, match=r"holds no snapshot states"):
        ovf.export_store(store, tmp_path / "x", states=["snapshot"], progress=False)
    with pytest.raises(ConfigError, match=r"--states"):
        ovf.export_store(store, tmp_path / "x", samples=[0], progress=False)


def test_sample_lists():
    assert ovf.parse_indices("0-3, 7,2") == [0, 1, 2, 3, 7]
    for bad in ("3-1", "a", "1,,2", "-2"):
        with pytest.raises(ConfigError, match="--samples"):
            ovf.parse_indices(bad)


def test_the_command_line_offers_every_kind_of_state():
    from latentspin.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command").choices["export-ovf"]
    states = next(a for a in sub._actions if a.dest == "states")
    assert tuple(states.choices) == ovf.TRAJECTORY_STATES
    assert tuple(next(a for a in sub._actions if a.dest == "format").choices) == tuple(ovf.FORMATS)
