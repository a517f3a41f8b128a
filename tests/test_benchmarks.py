"""The benchmark scripts' machinery on tiny data, so the scripts do not rot between the hand runs
whose numbers their docstrings record."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_mnist_race_measures_accuracy_during_training_and_stops_at_the_budget():
    bench = _load("mnist_cnn")
    rng = np.random.default_rng(0)
    x = rng.random((512, 28, 28, 1), dtype=np.float32)
    y = (x[:, :14].mean(axis=(1, 2, 3)) > x[:, 14:].mean(axis=(1, 2, 3))).astype(np.int64)  # learnable
    data = (x[:384], y[:384], x[384:], y[384:])
    params, curve = bench.race("tiny", bench.recommended_cnn, 3e-3, 32, data, budget_s=0.5, max_epochs=50)
    assert params == 12_954
    steps = [s for s, _, _ in curve]
    assert steps == sorted(steps) and steps[0] == 3, "four measurements per 12-step epoch: every 3 steps"
    assert len(curve) < 4 * 50, "training must stop once the time budget is spent"
    seconds = [t for _, t, _ in curve]
    assert all(b >= a for a, b in zip(seconds, seconds[1:]))
    assert all(0.0 <= a <= 1.0 for _, _, a in curve)
    assert bench.first_reaching([(3, 1.0, 0.5), (6, 2.0, 0.8), (9, 3.0, 0.7)], 0.75) == (6, 2.0)
    assert bench.first_reaching([(3, 1.0, 0.5)], 0.9) is None


@pytest.mark.slow
def test_transfer_benchmark_trains_the_three_models_on_tiny_data():
    bench = _load("transfer")
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (60, 28, 28), dtype=np.uint8)
    y = np.arange(60) % 10
    data_ = (x[:40], y[:40], x[40:], y[40:])

    def random_net(shape):  # the architecture without downloads: the test needs no cached weights
        return keras.applications.MobileNetV2(weights=None, include_top=False, input_shape=shape)

    results, extract_seconds = bench.run(data_, size=32, head_epochs=1, fine_epochs=1, seeds=(0, 1), build=random_net)
    assert list(results) == list(bench.MODELS) and extract_seconds > 0
    params = {name: runs[0][2] for name, runs in results.items()}
    assert params == {"from scratch": 12_858, "frozen base + head": 5_770,
                      "fine-tuned top blocks": 96 * 576 + 3 * 3 * 576 + 576 * 96 + 96 * 576 + 5_770}
    assert all(len(runs) == 2 and all(0 <= a <= 1 and s > 0 for a, s, _ in runs) for runs in results.values())
    lines = bench.table(results).splitlines()
    assert len(lines) == 5 and lines[2].startswith("| from scratch | 12,858 |")
    assert bench.defaults("quick") == {"train": 300, "test": 1_000, "size": 64}


@pytest.mark.slow
def test_vae_benchmark_builds_keras_io_and_course_vaes_and_trains_them_on_tiny_data():
    bench = _load("vae")
    # keras-io's encoder by hand: conv 3*3*1*32+32, conv 3*3*32*64+64, Dense(16) on 7*7*64, two Dense(2) heads
    keras_io_encoder = (9 * 32 + 32) + (9 * 32 * 64 + 64) + (7 * 7 * 64 * 16 + 16) + 2 * (16 * 2 + 2)
    # its decoder: Dense(7*7*64) on 2, transposed convs 64->64, 64->32, 32->1 (3 x 3 kernels)
    keras_io_decoder = (2 * 3136 + 3136) + (9 * 64 * 64 + 64) + (9 * 64 * 32 + 32) + (9 * 32 + 1)
    assert (keras_io_encoder, keras_io_decoder) == (69_076, 65_089)  # keras-io's printed summaries
    dense_encoder = (784 * 256 + 256) + 2 * (256 * 2 + 2)
    dense_decoder = (2 * 256 + 256) + (256 * 784 + 784)
    assert bench.keras_io_encoder().count_params() == keras_io_encoder
    assert bench.keras_io_decoder().count_params() == keras_io_decoder
    assert bench.dense_encoder().count_params() == dense_encoder
    assert bench.dense_decoder().count_params() == dense_decoder

    # the loss terms against their formulas: KL(N(0, 1) || N(0, 1)) = 0, and summed binary cross-entropy
    assert float(bench.kl_divergence(np.zeros((1, 2)), np.zeros((1, 2)))[0]) == pytest.approx(0.0, abs=1e-7)
    kl = float(bench.kl_divergence(np.array([[1.0, 0.0]]), np.array([[0.0, np.log(4.0)]]))[0])
    assert kl == pytest.approx(0.5 * 1.0 + 0.5 * (4.0 - 1.0 - np.log(4.0)), rel=1e-5)
    rng = np.random.default_rng(0)
    x = (rng.random((4, 28, 28, 1)) > 0.5).astype(np.float32)
    p = rng.uniform(0.05, 0.95, x.shape).astype(np.float32)
    by_hand = -(x * np.log(p) + (1 - x) * np.log(1 - p)).sum(axis=(1, 2, 3))
    np.testing.assert_allclose(np.asarray(bench.reconstruction_loss(x, p)), by_hand, rtol=1e-4)

    # tiny "digits": a bright blob at one of 4 places, so training has something to learn
    images = np.zeros((96, 28, 28, 1), np.float32)
    for i in range(96):
        r, c = 4 + 12 * (i % 2), 4 + 12 * ((i // 2) % 2)
        images[i, r:r + 8, c:c + 8] = 1.0
    x_train, x_test = images[:64], images[64:]
    settings = {name: bench.Setting(s.encoder, s.decoder, batch_size=16, learning_rate=s.learning_rate)
                for name, s in bench.MODELS.items()}
    before = {name: float(bench.make_vae(s).evaluate(x_test, batch_size=32, verbose=0, return_dict=True)["total_loss"])
              for name, s in settings.items()}
    rows = [bench.train(name, s, x_train, x_test, epochs=3) for name, s in settings.items()]
    assert [r["model"] for r in rows] == list(bench.MODELS) == ["keras-io", "course 04_4 (quick)"]
    assert [r["params"] for r in rows] == [keras_io_encoder + keras_io_decoder, dense_encoder + dense_decoder]
    for r in rows:
        assert r["updates"] == 3 * 4 and r["epochs"] == 3 and r["seconds"] > 0
        assert all(np.isfinite([r["total"], r["reconstruction"], r["kl"], r["test_total"]]))
        assert r["total"] == pytest.approx(r["reconstruction"] + r["kl"], rel=1e-4)
        assert r["kl"] >= 0
        losses = r["history"]["total_loss"]
        assert losses[-1] < losses[0], f"{r['model']}: training must lower the loss, got {losses}"
        assert r["test_total"] < before[r["model"]], f"{r['model']}: test loss not below the untrained model's"
    lines = bench.table(rows).splitlines()
    assert len(lines) == 2 + 2, "a header, a rule and one row per model"
    assert lines[2].startswith("| keras-io | 134,165 | 3 | 12 |")
    assert lines[3].startswith("| course 04_4 (quick) | 404,244 | 3 | 12 |")
