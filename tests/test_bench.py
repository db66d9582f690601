import subprocess
import sys
import time


def test_bench_anneal_prints_kernel_and_numpy_rates():
    r = subprocess.run([sys.executable, "-m", "latentspin", "bench", "anneal", "--L", "16", "--sweeps", "2",
                        "--seconds", "0.05", "--threads", "1"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    rows = [line.split() for line in r.stdout.splitlines() if line.startswith(("numba", "numpy"))]
    assert [row[0] for row in rows] == ["numba", "numpy"]
    assert all(float(row[-2]) > 0 for row in rows)  # updates/s
    assert rows[-1][-1] == "1.0x"  # the baseline column is relative to NumPy


def test_bench_explore_reports_each_algorithm():
    r = subprocess.run([sys.executable, "-m", "latentspin", "bench", "explore", "--L", "32", "--batch", "4",
                        "--seconds", "0.05", "--device", "cpu"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    rows = [line.split() for line in r.stdout.splitlines() if line.startswith(("single_code", "genetic", "stochastic"))]
    assert [row[0] for row in rows] == ["single_code", "genetic", "stochastic"]
    assert all(float(row[3]) > 0 for row in rows)


def test_bench_anneal_adds_the_torch_kernel_on_request():
    r = subprocess.run([sys.executable, "-m", "latentspin", "bench", "anneal", "--L", "16", "--sweeps", "2",
                        "--seconds", "0.05", "--threads", "1", "--device", "cpu", "--batch", "4", "--no-compile"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    rows = [line.split() for line in r.stdout.splitlines() if line.startswith(("numba", "torch", "numpy"))]
    assert [row[:3] for row in rows] == [["numba", "kernel", "1"], ["torch", "float64", "cpu"],
                                         ["torch", "float32", "cpu"], ["numpy", "reference", "1"]]
    assert all(float(row[-2]) > 0 for row in rows) and rows[-1][-1] == "1.0x"


def test_bench_anneal_times_the_compiled_kernel_after_its_warm_up():
    """The workflow's GPU setting (float32, compiled) gets its own row; aot_eager traces as inductor
    would, without generating code, so this stays cheap on CPU."""
    from latentspin import bench

    rows = bench.bench_anneal(L=8, sweeps=2, min_seconds=0.05, threads=[1], torch_device="cpu", torch_batch=3,
                              torch_compile="aot_eager")
    torch_rows = [r for r in rows if "dtype" in r]
    assert [r["dtype"] for r in torch_rows] == ["float64", "float32", "float32 compiled"]
    assert all(r["updates_per_s"] > 0 and r["batch"] == 3 for r in torch_rows)


def test_bench_vae_variants_time_bfloat16_and_compiled_beside_the_plain_operations():
    from latentspin import bench

    rows = bench.bench_vae(L=32, batch_size=2, min_seconds=0.05, device="cpu", latent_dim=4, variants=True,
                           compile_backend="aot_eager")
    assert [(r["operation"], r["base"]) for r in rows][3:] == [
        ("train step, bfloat16", "train step"), ("train step, compiled", "train step"),
        ("decode, compiled", "decode"), ("decode + grad, compiled", "decode + grad to z")]
    assert all(r["samples_per_s"] > 0 for r in rows)
    # CPU: the plain operations and bfloat16 training, no compilation
    assert len(bench.bench_vae(L=32, batch_size=2, min_seconds=0.05, device="cpu", latent_dim=4)) == 4


def test_bench_all_writes_one_table_of_every_stage_with_its_ratio_to_the_cpu_path(tmp_path):
    import pandas as pd

    r = subprocess.run([sys.executable, "-m", "latentspin", "bench", "all", "--Ls", "16", "--L", "32", "--batch", "4",
                        "--sweeps", "2", "--seconds", "0.05", "--device", "cpu", "--no-compile",
                        "--csv", str(tmp_path / "b.csv")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    table = pd.read_csv(tmp_path / "b.csv")
    assert list(table["stage"]) == (["anneal"] * 3 + ["train", "decode", "decode", "train"]
                                    + ["explore", "explore", "explore"])
    assert list(table["measurement"][-3:]) == ["single_code", "genetic", "stochastic"]
    assert (table["value"] > 0).all() and (table["cpu_value"] > 0).all()
    assert (table["vs_cpu"] == table["value"] / table["cpu_value"]).all()
    assert table.loc[0, "vs_cpu"] == 1.0 and table["device"].iloc[-1] == "cpu"  # the numba row is the CPU path
    assert table["torch"].iloc[0].startswith("2.") and table["gpu"].isna().all()  # versions; no GPU here
    assert "torch kernel float32, batch 4" in r.stdout and "GPU none" in r.stdout


def test_timing_is_the_median_call_after_a_warm_up():
    """One slow call among fast ones does not set the result, the warm-up call is not timed, and
    at least three calls are timed however long each takes."""
    from latentspin.bench import _time

    durations = iter([0.5, 0.01, 0.3, 0.01, 0.01])  # warm-up, then one slow call among fast ones
    calls = []

    def fn():
        calls.append(1)
        time.sleep(next(durations))

    seconds = _time(fn, min_seconds=0.0)
    assert len(calls) == 4  # the warm-up and the three calls min_calls asks for
    assert 0.01 <= seconds < 0.05  # the median of (0.01, 0.3, 0.01)
