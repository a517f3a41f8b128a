"""dlcourse.detection: the npm tarball's packed assets cut out on a tarball of the same layout
written here (so a parser bug fails without internet), the anchors and box coder against hand
values, the real MediaPipe detector on real photos, and the TF Hub path on a local SavedModel
with the Hub detector's signature."""

import hashlib
import io
import json
import tarfile

import numpy as np
import pytest

from dlcourse import data, detection


def _fake_tgz(path, members: dict[str, bytes], packed_extra: bytes = b"") -> None:
    """An npm tarball laid out like @mediapipe/objectron's: one packed data file plus a loader
    script whose metadata lists each asset's byte range."""
    packed, files = b"", []
    for name, body in members.items():
        files.append({"filename": name, "start": len(packed), "end": len(packed) + len(body)})
        packed += body
    loader = f"var x = 1; loadPackage({json.dumps({'files': files, 'remote_package_size': len(packed)})});"
    with tarfile.open(path, "w:gz") as archive:
        for name, body in ((detection.PACKED_LOADER, loader.encode()), (detection.PACKED_DATA, packed + packed_extra)):
            info = tarfile.TarInfo(name)
            info.size = len(body)
            archive.addfile(info, io.BytesIO(body))


@pytest.fixture
def fake_members(monkeypatch):
    bodies = {"/models/a.tflite": b"TFL3 fake model bytes", "/labels.txt": b"???\nCat\n"}
    monkeypatch.setattr(detection, "MEMBERS", {
        name: (name.rsplit("/", 1)[-1], hashlib.sha256(body).hexdigest()) for name, body in bodies.items()})
    return bodies


def test_extract_packed_cuts_each_asset_at_its_offsets(tmp_path, fake_members):
    tgz = tmp_path / "pkg.tgz"
    _fake_tgz(tgz, {"/other.bin": b"x" * 50, **fake_members})
    detection.extract_packed(tgz, tmp_path / "out")
    assert (tmp_path / "out" / "a.tflite").read_bytes() == fake_members["/models/a.tflite"]
    assert (tmp_path / "out" / "labels.txt").read_bytes() == b"???\nCat\n"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.tflite", "labels.txt"]


def test_extract_packed_refuses_changed_or_missing_assets(tmp_path, fake_members):
    changed = dict(fake_members, **{"/labels.txt": b"???\nDog\n"})
    _fake_tgz(tmp_path / "changed.tgz", changed)
    with pytest.raises(detection.ChecksumError, match="SHA-256"):
        detection.extract_packed(tmp_path / "changed.tgz", tmp_path / "out")
    assert not (tmp_path / "out" / "labels.txt").exists(), "a file with the wrong checksum must not be cached"
    _fake_tgz(tmp_path / "missing.tgz", {"/labels.txt": fake_members["/labels.txt"]})
    with pytest.raises(data.DatasetUnavailable, match="no /models/a.tflite"):
        detection.extract_packed(tmp_path / "missing.tgz", tmp_path / "out2")


def test_ssd_files_downloads_once_then_works_offline(monkeypatch, tmp_path, fake_members):
    tgz = tmp_path / "objectron.tgz"
    _fake_tgz(tgz, fake_members)
    seen = []
    monkeypatch.setattr(detection, "fetch", lambda url, sha256, *a, **k: seen.append((url, sha256)) or tgz)
    monkeypatch.setenv("DLCOURSE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("DLCOURSE_OFFLINE", raising=False)
    folder = detection.ssd_files()
    assert seen == [(data.SSD_MOBILENET_V2.offline.url, data.SSD_MOBILENET_V2.offline.sha256)]
    assert not tgz.exists() and (folder / "a.tflite").exists()
    monkeypatch.setenv("DLCOURSE_OFFLINE", "1")
    monkeypatch.setattr(detection, "fetch", lambda *a, **k: pytest.fail("must not download"))
    assert detection.ssd_files() == folder


def test_offline_without_cache_says_how_to_get_the_detector(monkeypatch, tmp_path):
    monkeypatch.setenv("DLCOURSE_CACHE", str(tmp_path))
    monkeypatch.setenv("DLCOURSE_OFFLINE", "1")
    with pytest.raises(data.DatasetUnavailable, match="make env"):
        detection.ssd_files()


def test_registry_entry_and_coco_labels():
    info = data.REGISTRY["ssd_mobilenet_v2"]
    assert info.offline.url.startswith("https://registry.npmjs.org/@mediapipe/objectron/-/")
    assert len(info.offline.sha256) == 64 and "Open Images" in info.offline.description
    assert "hub.load" in info.full.description
    assert len(detection.COCO_LABELS) == 80 and max(detection.COCO_LABELS) == 90
    assert (detection.COCO_LABELS[1], detection.COCO_LABELS[18], detection.COCO_LABELS[47]) == ("person", "dog", "cup")


# ---------------------------------------------------------------- anchors and the box coder
def test_anchor_layout_matches_ssd_mobilenet_v2():
    anchors = detection.ssd_anchors()
    assert anchors.shape == (19 * 19 * 3 + (10 * 10 + 5 * 5 + 3 * 3 + 2 * 2 + 1) * 6, 4) == (1917, 4)
    # First cell of the lowest layer: centre (0.5/19, 0.5/19); boxes 0.1 x 0.1, then 0.2 at ratios 2 and 1/2.
    c = 0.5 / 19
    s2 = np.sqrt(2.0)
    np.testing.assert_allclose(anchors[:3], [[c, c, 0.1, 0.1], [c, c, 0.2 / s2, 0.2 * s2], [c, c, 0.2 * s2, 0.2 / s2]],
                               rtol=1e-6)
    # The last layer is one cell at the centre; its last box has scale sqrt(0.95 * 1.0).
    np.testing.assert_allclose(anchors[-1], [0.5, 0.5, np.sqrt(0.95), np.sqrt(0.95)], rtol=1e-6)
    # Layer 2 (10x10) starts after the 1,083 lowest-layer boxes, at scale 0.2 + 0.75/5 = 0.35.
    np.testing.assert_allclose(anchors[1083], [0.05, 0.05, 0.35, 0.35], rtol=1e-6)
    assert (anchors[:, :2] > 0).all() and (anchors[:, :2] < 1).all()


def test_decode_boxes_inverts_the_ssd_box_coder():
    anchors = detection.ssd_anchors()
    np.testing.assert_allclose(  # zero offsets give the anchors themselves, as corners
        detection.decode_boxes(np.zeros((1917, 4)), anchors),
        np.c_[anchors[:, :2] - anchors[:, 2:] / 2, anchors[:, :2] + anchors[:, 2:] / 2], atol=1e-6)
    rng = np.random.default_rng(0)
    y0, x0 = rng.uniform(0, 0.5, (2, 1917))
    h, w = rng.uniform(0.05, 0.5, (2, 1917))
    boxes = np.c_[y0, x0, y0 + h, x0 + w]
    # The encoder, written out: offsets of the centre in anchor sizes x 10, log size ratios x 5.
    t = np.c_[10 * (y0 + h / 2 - anchors[:, 0]) / anchors[:, 2], 10 * (x0 + w / 2 - anchors[:, 1]) / anchors[:, 3],
              5 * np.log(h / anchors[:, 2]), 5 * np.log(w / anchors[:, 3])]
    np.testing.assert_allclose(detection.decode_boxes(t, anchors), boxes, atol=1e-5)


# ---------------------------------------------------------------- the real detector (cached by `make env`)
@pytest.fixture(scope="module")
def mediapipe():
    try:
        folder = detection.ssd_files(download=False)
    except data.DatasetUnavailable as exc:
        pytest.skip(str(exc))
    return detection.MediaPipeSSD(folder)


def test_mediapipe_detector_finds_the_cat_and_the_astronaut(mediapipe):
    from dlcourse.data import load_image

    encodings, logits = mediapipe.raw(load_image("chelsea"))
    assert encodings.shape == (1917, 4) and logits.shape == (1917, 24)
    assert mediapipe.labels[0] == "???" and len(mediapipe.labels) == 24
    cat = mediapipe.detect(load_image("chelsea"), min_score=0.5)
    assert cat.labels == ["Cat"] and cat.scores[0] > 0.7, (cat.labels, cat.scores)
    y0, x0, y1, x1 = cat.boxes[0]
    assert (y1 - y0) * (x1 - x0) > 0.6, "Chelsea fills most of the photo"
    person = mediapipe.detect(load_image("astronaut"), min_score=0.5)
    assert "Person" in person.labels
    # Without a score threshold NMS still leaves no two boxes of one class overlapping above 0.5.
    many = mediapipe.detect(load_image("coffee"), min_score=0.05, iou_threshold=0.5, max_detections=50)
    assert len(many) > 1 and (np.diff(many.scores) <= 1e-6).all()
    with pytest.raises(ValueError, match="uint8"):
        mediapipe.detect(load_image("chelsea").astype(np.float32))
    with pytest.raises(ValueError, match=r"\(height, width, 3\)"):
        mediapipe.detect(load_image("chelsea")[None])


def _hub_like_savedmodel(path):
    """A SavedModel with TF Hub's detector call: uint8 [1, H, W, 3] -> the results dict."""
    import tensorflow as tf

    class Detector(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([1, None, None, 3], tf.uint8)])
        def __call__(self, images):
            return {"detection_boxes": tf.constant([[[0.1, 0.2, 0.5, 0.6], [0.0, 0.0, 1.0, 1.0], [0, 0, 0, 0]]]),
                    "detection_scores": tf.constant([[0.9, 0.4, 0.0]]),
                    "detection_classes": tf.constant([[17.0, 1.0, 0.0]]),
                    "num_detections": tf.constant([2.0]) + 0.0 * tf.reduce_sum(tf.cast(images, tf.float32))}

    tf.saved_model.save(Detector(), str(path))


def test_full_mode_loads_a_hub_detector_with_hub_load(monkeypatch, tmp_path, capsys):
    pytest.importorskip("tensorflow_hub")
    _hub_like_savedmodel(tmp_path / "ssd")
    monkeypatch.setenv("DLCOURSE_MODE", "full")
    monkeypatch.delenv("DLCOURSE_OFFLINE", raising=False)
    detector = detection.load_detector(handle=str(tmp_path / "ssd"))
    assert isinstance(detector, detection.HubSSD) and "TF Hub" in capsys.readouterr().out
    found = detector.detect(np.zeros((40, 60, 3), np.uint8), min_score=0.3)
    assert found.labels == ["cat", "person"] and list(found.classes) == [17, 1]
    np.testing.assert_allclose(found.boxes[0], [0.1, 0.2, 0.5, 0.6])
    assert len(detector.detect(np.zeros((40, 60, 3), np.uint8), min_score=0.5)) == 1


def test_full_mode_without_hub_falls_back_loudly_but_grading_refuses(mediapipe, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("DLCOURSE_MODE", "full")
    monkeypatch.setenv("DLCOURSE_OFFLINE", "1")
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    assert isinstance(detection.load_detector(), detection.MediaPipeSSD)
    assert "TF Hub detector unavailable" in capsys.readouterr().err
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    with pytest.raises(data.DatasetUnavailable, match="never switches"):
        detection.load_detector()


# ---------------------------------------------------------------- the digit canvases (L3.1, a03)
def test_digit_canvases_know_their_boxes():
    pytest.importorskip("tensorflow")
    digits = np.zeros((5, 28, 28), np.float32)
    digits[:, 6:22, 10:18] = 1.0  # a bar of ink: 16 rows, 8 columns
    labels = np.arange(5)
    x, y, boxes = detection.digit_canvases(digits, labels, 200, seed=1, background=0.25)
    assert x.shape == (200, 32, 32, 1) and y.shape == (200, 15) and boxes.shape == (200, 4)
    empty = y[:, 0] == 0
    assert 0.15 < empty.mean() < 0.35 and not x[empty].any() and not y[empty].any()
    for i in np.flatnonzero(~empty)[:20]:
        rows, cols = np.nonzero(x[i, :, :, 0] > detection.INK)
        np.testing.assert_allclose(boxes[i], [rows.min() / 32, cols.min() / 32, (rows.max() + 1) / 32, (cols.max() + 1) / 32])
        assert y[i, 5:].argmax() in labels and y[i, 5:].sum() == 1
    np.testing.assert_allclose(detection.target_boxes(y[~empty]), boxes[~empty], atol=1e-6)
    np.testing.assert_allclose(detection.paired_iou(boxes[~empty], boxes[~empty]), 1.0)
    again = detection.digit_canvases(digits, labels, 200, seed=1, background=0.25)
    assert all(np.array_equal(a, b) for a, b in zip((x, y, boxes), again)), "the same seed gives the same canvases"
    disjoint = detection.paired_iou([[0, 0, 0.2, 0.2], [0, 0, 1, 1]], [[0.5, 0.5, 0.9, 0.9], [0, 0, 1, 0.5]])
    np.testing.assert_allclose(disjoint, [0.0, 0.5])
