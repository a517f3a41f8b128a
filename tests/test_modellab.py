"""The model worker rebuilds only built-in Keras architectures, and answers plain numbers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dlcourse import answers as A
from dlcourse.grader import modellab

keras = pytest.importorskip("keras")


def small_model():
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="relu"), keras.layers.Dense(2)])


def test_built_in_architectures_pass_the_allowlist():
    modellab.check_config(small_model().to_json())
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(2, 3)(inputs)
    x = keras.layers.BatchNormalization()(x)
    outputs = keras.layers.Dense(10)(keras.layers.Flatten()(x))
    modellab.check_config(keras.Model(inputs, outputs).to_json())


def test_code_carrying_or_notebook_classes_are_refused():
    with_lambda = keras.Sequential([keras.Input((4,)), keras.layers.Lambda(lambda x: x * 2)])
    with pytest.raises(modellab.RefusedModel, match="Lambda"):
        modellab.check_config(with_lambda.to_json())

    class Cheat(keras.Sequential):
        def evaluate(self, *args, **kwargs):
            return [0.0, 1.0]

    cheat = Cheat([keras.Input((4,)), keras.layers.Dense(2)])
    with pytest.raises(modellab.RefusedModel, match="built-in Keras"):
        modellab.check_config(cheat.to_json())
    with pytest.raises(modellab.RefusedModel, match="built-in Keras"):  # no module: not resolved by name
        modellab.check_config('{"class_name": "Sequential", "config": {"layers": [{"class_name": "Lambda", "config": {}}]}}')
    with pytest.raises(modellab.RefusedModel, match="not valid JSON"):
        modellab.check_config("{not json")


@pytest.mark.slow
def test_worker_inspects_with_given_weights_and_survives_bad_requests(monkeypatch):
    monkeypatch.setenv("DLCOURSE_SANDBOX", "off")  # the sandboxed worker is covered by the grader tests
    model = small_model()
    weights = [np.full(w.shape, 0.1, np.float32) for w in model.get_weights()]
    x = np.ones((2, 4), np.float32)
    model.set_weights(weights)
    lab = modellab.Lab()
    try:
        reply = lab.request("inspect", config=model.to_json(), inputs=A.encode(x), weights=[A.encode(w) for w in weights])
        ok = reply["ok"]
        assert ok["params"] == 4 * 3 + 3 + 3 * 2 + 2 and ok["class_name"] == "Sequential"
        assert ok["trainable_params"] == ok["params"]
        assert ok["layers"] == ["Dense", "Dense"]
        model.layers[0].trainable = False  # a frozen layer travels in the JSON and is reported
        frozen = lab.request("inspect", config=model.to_json())["ok"]
        assert frozen["params"] == ok["params"] and frozen["trainable_params"] == 3 * 2 + 2
        np.testing.assert_allclose(A.decode(ok["outputs"]), model(x).numpy(), rtol=1e-6)
        assert "refused" in lab.request("inspect", config='{"module": "os", "class_name": "system", "config": {}}')
        assert "error" in lab.request("nonsense")
        again = lab.request("inspect", config=model.to_json())
        assert again["ok"]["params"] == ok["params"]
    finally:
        lab.close()


def test_context_asks_the_worker_once_per_architecture_whatever_the_layer_names(monkeypatch, tmp_path):
    from dlcourse.grader import judge as J

    calls = []

    class FakeLab:
        def request(self, op, **fields):
            calls.append((op, fields))
            units = json.loads(fields["config"])["config"]["layers"][0]["config"]["units"]
            return {"refused": "a Lambda layer"} if units == 0 else {"error": "boom"} if units < 0 else {"ok": {"params": units}}

    def config(name, units):
        return json.dumps({"class_name": "Sequential", "config": {"name": f"seq_{name}", "layers": [
            {"class_name": "Dense", "config": {"name": f"dense_{name}", "units": units}}]}})

    monkeypatch.setattr(modellab, "shared_lab", lambda: FakeLab())
    ctx = J.Context(tmp_path, "a99")
    assert ctx.ask("first", "inspect", config=config(1, 3)) == {"params": 3}
    assert ctx.ask("renamed", "inspect", config=config(7, 3)) == {"params": 3}
    assert len(calls) == 1, "the same architecture under other layer names is asked once"
    assert ctx.ask("other", "inspect", config=config(1, 4))["params"] == 4
    ctx.ask("same model, other inputs", "inspect", config=config(1, 4), inputs=[1])
    assert len(calls) == 3
    with pytest.raises(AssertionError, match="lambda_model: expected a model made of built-in Keras layers"):
        ctx.ask("lambda_model", "inspect", config=config(1, 0))
    with pytest.raises(AssertionError, match="broken: expected a model the grader can rebuild and run, got an error: boom"):
        ctx.ask("broken", "inspect", config=config(1, -1))
    assert J.Context(tmp_path, "a99").replies == {}, "a new notebook starts with no cached replies"
    assert J.canonical_config(config(1, 3)) == J.canonical_config(config(9, 3)) != J.canonical_config(config(1, 5))


def _localizer(head_activation="softmax", outputs=15):
    inputs = keras.Input((32, 32, 1))
    x = keras.layers.Dense(16, activation="relu")(keras.layers.Flatten()(inputs))
    if outputs != 15:
        return keras.Model(inputs, keras.layers.Dense(outputs, activation="softmax")(x))
    heads = [keras.layers.Dense(1, activation="sigmoid")(x), keras.layers.Dense(4, activation="sigmoid")(x),
             keras.layers.Dense(10, activation=head_activation)(x)]
    return keras.Model(inputs, keras.layers.Concatenate()(heads))


@pytest.mark.slow
def test_localize_trains_with_the_lectures_loss_and_measures_boxes(monkeypatch):
    """op_localize on a tiny model: the loss equals a NumPy hand calculation, the reply's numbers
    are in range and repeat exactly, and a wrong output shape or size is refused, not trained."""
    y_true = np.array([[1, 0.5, 0.5, 0.4, 0.2, 0, 1, 0], [0, 0, 0, 0, 0, 0, 0, 0]], np.float32)
    y_pred = np.array([[0.8, 0.4, 0.6, 0.4, 0.4, 0.2, 0.7, 0.1], [0.3, 0.9, 0.1, 0.5, 0.5, 0.6, 0.2, 0.2]], np.float32)
    loss = keras.ops.convert_to_numpy(modellab._localization_loss(y_true, y_pred))
    np.testing.assert_allclose(loss, [-np.log(0.8) + 0.06 - np.log(0.7), -np.log(0.7)], rtol=1e-5)
    monkeypatch.setattr(modellab, "LOCALIZE_TEST", 100)
    request = {"config": _localizer().to_json(), "train": 200, "epochs": 1, "seed": 0}
    first, second = modellab.op_localize(dict(request)), modellab.op_localize(dict(request))
    for key in ("p_c_accuracy", "mean_iou", "class_accuracy"):
        assert 0.0 <= first[key] <= 1.0 and first[key] == second[key], (key, first, second)
    assert first["test"] == 100 and first["train"] == 200 and first["loss"] > 0
    wrong = modellab.op_localize({**request, "config": _localizer(outputs=12).to_json()})
    assert wrong["skipped"] == "the output is not (batch, 15)" and "mean_iou" not in wrong
    capped = modellab.op_localize({**request, "max_params": 100})
    assert capped["skipped"] == "over the parameter cap"


def _vae_pair(latent=2, out_activation="sigmoid", two_outputs=True):
    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Dense(16, activation="relu")(keras.layers.Flatten()(inputs))
    heads = [keras.layers.Dense(latent)(x), keras.layers.Dense(latent)(x)] if two_outputs else keras.layers.Dense(2 * latent)(x)
    encoder = keras.Model(inputs, heads)
    z = keras.Input((latent,))
    decoder = keras.Model(z, keras.layers.Reshape((28, 28, 1))(keras.layers.Dense(784, activation=out_activation)(z)))
    return encoder.to_json(), decoder.to_json()


@pytest.mark.slow
def test_vae_trains_with_the_lectures_loss_repeats_and_refuses_wrong_shapes():
    """op_vae: the loss equals a NumPy hand calculation; training lowers it and repeats exactly;
    wrong shapes and oversized models are refused, not trained."""
    x = np.array([[[[1.0], [0.0]]]], np.float32)  # one 1x2 "image"
    p = np.array([[[[0.8], [0.3]]]], np.float32)
    rec, kl = (keras.ops.convert_to_numpy(t) for t in modellab._vae_losses(x, p, np.array([[1.0, 0.0]], np.float32),
                                                                           np.array([[0.0, np.log(4.0)]], np.float32)))
    np.testing.assert_allclose(rec, [-np.log(0.8) - np.log(0.7)], rtol=1e-6)
    np.testing.assert_allclose(kl, [0.5 + -0.5 * (1 + np.log(4.0) - 4.0)], rtol=1e-6)
    encoder, decoder = _vae_pair()
    request = {"encoder": encoder, "decoder": decoder, "latent": 2, "train": 300, "test": 200, "epochs": 2, "seed": 0}
    untrained = modellab.op_vae({**request, "epochs": 0})
    first, second = modellab.op_vae(dict(request)), modellab.op_vae(dict(request))
    assert first["test_loss"] == second["test_loss"] and first["train_losses"] == second["train_losses"]
    assert first["test_loss"] < untrained["test_loss"] and first["train_losses"][1] < first["train_losses"][0]
    assert abs(first["test_loss"] - first["test_reconstruction"] - first["test_kl"]) < 1e-3 * first["test_loss"]
    assert first["train"] == 300 and first["test"] == 200 and first["params"] == (784 * 16 + 16) + 2 * (16 * 2 + 2) + (2 * 784 + 784)
    single = modellab.op_vae({**request, "encoder": _vae_pair(two_outputs=False)[0]})
    assert single["skipped"].startswith("encoder outputs are [[None, 4]]") and "test_loss" not in single
    other_latent = modellab.op_vae({**request, "latent": 3})
    assert "skipped" in other_latent and "test_loss" not in other_latent
    assert modellab.op_vae({**request, "max_params": 1000})["skipped"] == "over the parameter cap"
