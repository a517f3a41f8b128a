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
