import pytest
from latentspin.core.io import atomic, save_torch, temporary, write_json
from latentspin.core.seeds import derive_seed


def test_atomic_file_is_replaced_whole_or_kept(tmp_path):
    path = tmp_path / "a.json"
    write_json({"v": 1}, path)
    with pytest.raises(RuntimeError):
        with atomic(path) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert path.read_text().strip().startswith("{") and '"v": 1' in path.read_text()
    assert not list(tmp_path.glob(".*.tmp"))
    write_json({"v": 2}, path)
    assert '"v": 2' in path.read_text()


def test_atomic_directory_replaces_an_existing_one(tmp_path):
    path = tmp_path / "store"
    for content in ("old", "new"):
        with atomic(path) as tmp:
            tmp.mkdir()
            (tmp / "x").write_text(content)
    assert (path / "x").read_text() == "new" and not list(tmp_path.glob(".*.tmp"))


def test_derived_seeds_are_stable_and_distinct():
    assert derive_seed(1, "a", 2) == derive_seed(1, "a", 2)
    assert len({derive_seed(1, "a"), derive_seed(1, "b"), derive_seed(2, "a")}) == 3
    assert 0 <= derive_seed(7, "x") < 2**63


def test_what_a_killed_write_left_is_cleared_by_the_next(tmp_path):
    """A job killed without warning (SIGKILL) leaves its temporary file; the rerun's write removes
    it and never takes it for the output."""
    path = tmp_path / "a.json"
    temporary(path).write_text("half of a killed write")
    assert not path.exists()
    write_json({"v": 3}, path)
    assert '"v": 3' in path.read_text() and not temporary(path).exists()


def test_a_checkpoint_is_saved_where_its_folder_was_removed(tmp_path):
    """Snakemake, stopping a job, removes its incomplete output and every empty folder above it
    while the job still saves its state on the signal: the save makes the folder again."""
    import torch

    path = tmp_path / "explore" / "genetic" / "energy" / "checkpoint.pt"
    assert not path.parent.exists()
    save_torch({"generation": 513, "z": torch.arange(6.0).reshape(2, 3)}, path)
    saved = torch.load(path, weights_only=True)
    assert saved["generation"] == 513 and torch.equal(saved["z"], torch.arange(6.0).reshape(2, 3))
