"""A search whose objective value or code turns non-finite stops where it happened, names it, keeps
its last good checkpoint and writes no output."""

import dataclasses
import io
import math

import pytest
import torch
from latentspin.core.errors import NotFinite
from latentspin.explore import algorithms, objectives, search
from latentspin.physics.hamiltonian import Hamiltonian
from latentspin.vae.model import VAE, VAEConfig

HAM = Hamiltonian()
SMALL = dict(latent_dim=8, encoder_channels=(4, 6, 8, 8), decoder_channels=(8, 6, 4, 3), dense=16)
SETTINGS = {"C": {"a": [1, 0]}, "C_BC": {"boundary": {"radius": 0.3, "width": 2.0, "direction": [0, 0, 1]}}}


def small_decoder():
    torch.manual_seed(2)
    decoder = VAE(VAEConfig(L=32, **SMALL)).eval().decoder
    for p in decoder.parameters():
        p.requires_grad_(False)
    return decoder


class NanGradient(torch.autograd.Function):
    """The identity, whose gradient is NaN: a finite value with a non-finite gradient."""

    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        return grad * math.nan


def faulty(name, at, rows=(1,), gradient=False):
    """Objective `name` whose value, on its call number `at`, is NaN for the items `rows` (the
    gradient unchanged), or with `gradient` finite but with a NaN gradient."""
    objective, calls = objectives.build(name, 32, HAM, SETTINGS), []

    def value(spins):
        calls.append(1)
        if len(calls) != at:
            return objective.value(spins)
        if gradient:
            return objective.value(NanGradient.apply(spins))
        v = objective.value(spins)
        nan = torch.zeros(len(v), dtype=torch.bool)
        nan[list(rows)] = True
        return v + torch.where(nan, math.nan, 0.0).to(v)

    return dataclasses.replace(objective, value=value), calls


def memory_checkpoint(every=0.0):
    saved = []

    def save(state):
        buffer = io.BytesIO()
        torch.save(state, buffer)
        saved.append(torch.load(io.BytesIO(buffer.getvalue()), weights_only=True))

    return algorithms.SearchCheckpoint(save, every, name="ck.pt"), saved


def assert_finite(state):
    for key, value in state.items():
        if isinstance(value, torch.Tensor) and value.is_floating_point():
            assert torch.isfinite(value).all(), key
        elif isinstance(value, dict):
            assert_finite(value)
        elif isinstance(value, list):
            assert all(math.isfinite(v) for v in value if isinstance(v, float)), key


def single_code(objective, checkpoint, iterations=12):
    codes = torch.randn(4, 8, generator=torch.Generator().manual_seed(1))
    return algorithms.single_code(small_decoder(), objective, codes, iterations=iterations, lr=1e-2, record_every=3,
                                  checkpoint=checkpoint)


def test_single_code_stops_at_the_iteration_whose_cost_is_nan():
    objective, calls = faulty("energy", at=6)
    checkpoint, saved = memory_checkpoint()
    with pytest.raises(NotFinite) as e:
        single_code(objective, checkpoint)
    assert str(e.value) == ("single-code search of energy: non-finite objective value for 1 of 4 codes at iteration 6; "
                            "ck.pt keeps the state after iteration 5; no output was written. Check the model or lower "
                            "explore.single_code.lr")
    assert len(calls) == 6 and saved[-1]["iteration"] == 5
    assert_finite(saved[-1])


def test_single_code_reads_its_record_where_it_reads_the_trace():
    """No save due (the interval is an hour): a NaN at iteration 5 is found at the next recorded
    iteration (every 3rd, from 0: the 7th), named as iteration 5, the first."""
    objective, calls = faulty("energy", at=5)
    checkpoint, saved = memory_checkpoint(every=3600)
    with pytest.raises(NotFinite, match=r"for 1 of 4 codes at iteration 5; no checkpoint of this search was saved "
                                        r"yet; no output"):
        single_code(objective, checkpoint)
    assert len(calls) == 7 and saved == []


def test_single_code_stops_at_a_code_made_nan_by_its_gradient_and_at_a_nan_final_cost():
    objective, _ = faulty("energy", at=6, gradient=True)
    checkpoint, saved = memory_checkpoint()
    with pytest.raises(NotFinite, match=r"^single-code search of energy: non-finite code z\* for 4 of 4 codes at "
                                        r"iteration 6; ck.pt keeps the state after iteration 5;"):
        single_code(objective, checkpoint)
    assert_finite(saved[-1])

    objective, _ = faulty("energy", at=13, rows=(0, 3))  # the costs of the final codes
    with pytest.raises(NotFinite, match=r"non-finite objective value for 2 of 4 codes after the last iteration "
                                        r"\(12\); its checkpoint keeps the state after iteration 11;"):
        single_code(objective, algorithms.Checkpoint(lambda state: None, 0.0))


def genetic(objective, checkpoint, generations=10):
    population = torch.randn(10, 8, generator=torch.Generator().manual_seed(1))
    return algorithms.genetic(small_decoder(), objective, population, generations=generations, pressure=8.0,
                              mutation_rate=0.05, generator=torch.Generator().manual_seed(0), snapshots=(0, 5),
                              checkpoint=checkpoint)


def test_genetic_stops_at_the_generation_whose_value_is_nan():
    """Without the check, a NaN value would make the roulette uniform and go on silently."""
    objective, calls = faulty("W", at=5)
    checkpoint, saved = memory_checkpoint()
    with pytest.raises(NotFinite) as e:
        genetic(objective, checkpoint)
    assert str(e.value) == ("genetic search of W: non-finite objective value for 1 of 10 individuals at generation 4; "
                            "ck.pt keeps the state after generation 3; no output was written. Check the model and "
                            "the objective's settings (explore.objectives)")
    assert len(calls) == 5 and saved[-1]["generation"] == 4  # the population of generation 4, not yet scored
    assert_finite(saved[-1])
    with pytest.raises(NotFinite, match=r"at generation 0; no checkpoint of this search was saved yet;"):
        genetic(faulty("W", at=1)[0], memory_checkpoint()[0])


def stochastic(objective, checkpoint):
    return algorithms.stochastic(small_decoder(), objective, 8, samples=6, lr=1e-2,
                                 generator=torch.Generator().manual_seed(0), gamma_every=4, sigma_tol=1e-9,
                                 max_iterations=12, record_every=2, checkpoint=checkpoint)


def test_stochastic_stops_at_the_iteration_whose_cost_or_distribution_is_nan():
    objective, calls = faulty("Mz", at=5)
    checkpoint, saved = memory_checkpoint()
    with pytest.raises(NotFinite) as e:
        stochastic(objective, checkpoint)
    assert str(e.value) == ("stochastic search of Mz: non-finite objective value for 1 of 6 samples at iteration 5; "
                            "ck.pt keeps the state after iteration 4; no output was written. Check the model or lower "
                            "explore.stochastic.lr")
    assert len(calls) == 5 and saved[-1]["iteration"] == 4
    assert_finite(saved[-1])

    objective, _ = faulty("Mz", at=7, gradient=True)
    checkpoint, saved = memory_checkpoint()
    with pytest.raises(NotFinite, match=r"^stochastic search of Mz: non-finite μ\* or σ\* in 8 of 8 latent dimensions "
                                        r"at iteration 7; ck.pt keeps the state after iteration 6;"):
        stochastic(objective, checkpoint)
    assert_finite(saved[-1])


def test_the_explore_command_reports_a_nan_in_one_line_and_writes_no_output(root, tmp_path, monkeypatch, capsys):
    """Through the command line: exit status 2, one line, no traceback, no trajectory or summary,
    and the checkpoint file holds the last good generation."""
    import yaml
    from latentspin import cli
    from latentspin.core import config as cfg
    from latentspin.vae.model import save_model

    config = cfg.merge(yaml.safe_load((root / "config.yaml").read_text()),
                       yaml.safe_load((root / "presets" / "smoke.yaml").read_text()))
    torch.manual_seed(0)
    model_path = tmp_path / "model.pt"
    save_model(VAE(VAEConfig(L=32, **SMALL)), model_path, extra={"beta": 1e-3})
    out = tmp_path / "genetic" / "W"
    build = objectives.build

    def build_faulty(name, L, ham, settings=None, **kw):
        objective, calls = build(name, L, ham, settings, **kw), []

        def value(spins):
            calls.append(1)
            v = objective.value(spins)
            return v + torch.where(torch.arange(len(v)) == 2, math.nan, 0.0).to(v) if len(calls) == 5 else v

        return dataclasses.replace(objective, value=value)

    monkeypatch.setattr(search.objectives, "build", build_faulty)
    argv = ["explore", "--config", cfg.section_json(config, cfg.explore_sections("genetic")), "--algorithm",
            "genetic", "--objective", "W", "--model", str(model_path), "--out-dir", str(out), "--device", "cpu",
            "--threads", "1", "--checkpoint-seconds", "0"]
    capsys.readouterr()
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("latentspin: error:") == 1
    population = config["explore"]["genetic"]["population"]
    assert err.rstrip("\n").splitlines()[-1] == (
        f"latentspin: error: genetic search of W: non-finite objective value for 1 of {population} individuals at "
        f"generation 4; {out / 'checkpoint.pt'} keeps the state after generation 3; no output was written. Check the "
        "model and the objective's settings (explore.objectives)")
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.pt"]
    saved = torch.load(out / "checkpoint.pt", weights_only=True)
    assert saved["state"]["generation"] == 4
    assert_finite(saved["state"])
