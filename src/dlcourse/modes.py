"""Quick and full modes, and the compute budget that each one allows.

One switch, the environment variable ``DLCOURSE_MODE`` (``quick`` or ``full``), picks the data
source and the amount of work. Notebooks write the *full-mode* numbers once and ask the budget
to scale them, so no notebook carries two hand-written sets of numbers::

    B = dlcourse.budget()
    EPOCHS = B.epochs(20)          # 20 in full mode, 5 in quick mode, 2 while grading quickly
    N_TRAIN = B.samples(60_000)    # capped by the mode's sample limit

Default mode: ``full`` when an NVIDIA GPU is visible, ``quick`` otherwise. While nbgrader
executes a notebook (it sets ``NBGRADER_EXECUTION``), the grading budget of the mode applies.
"""

from __future__ import annotations

import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

MODE_ENV = "DLCOURSE_MODE"
OFFLINE_ENV = "DLCOURSE_OFFLINE"
MODES = ("quick", "full")
NVIDIA_GPUS = Path("/proc/driver/nvidia/gpus")  # one folder per GPU the NVIDIA driver sees


@dataclass(frozen=True)
class Profile:
    """Scaling rules of one budget profile (see ``PROFILES``)."""

    epoch_fraction: float
    max_epochs: int | None
    max_samples: int | None
    max_steps: int | None


# The documented budgets. Full-mode numbers written in a notebook are scaled by these rules.
# "grade-*" profiles apply while nbgrader executes a notebook: a class of submissions is graded
# on one CPU machine, so grading trains the least that still separates right from wrong.
PROFILES: dict[str, Profile] = {
    "full": Profile(epoch_fraction=1.0, max_epochs=None, max_samples=None, max_steps=None),
    "quick": Profile(epoch_fraction=0.25, max_epochs=5, max_samples=5_000, max_steps=200),
    "grade-full": Profile(epoch_fraction=0.5, max_epochs=10, max_samples=20_000, max_steps=500),
    "grade-quick": Profile(epoch_fraction=0.2, max_epochs=3, max_samples=3_000, max_steps=100),
}


def gpu_visible() -> bool:
    """True when an NVIDIA GPU is present, checked without importing TensorFlow (fast).

    A GPU the driver lists in ``/proc`` counts. On Colab, ``COLAB_GPU`` decides: Colab sets it
    to ``1`` on GPU runtimes and ``0`` on CPU runtimes, whose image may still carry
    ``nvidia-smi``, so ``0`` (or an empty value) means no GPU. Elsewhere an ``nvidia-smi`` on the
    PATH counts as a GPU.
    """
    if NVIDIA_GPUS.is_dir() and any(NVIDIA_GPUS.iterdir()):
        return True
    colab_gpu = os.environ.get("COLAB_GPU")
    if colab_gpu is not None:
        return colab_gpu.strip().lower() not in {"", "0", "false", "no", "off"}
    return shutil.which("nvidia-smi") is not None


def mode() -> str:
    """The active mode: ``DLCOURSE_MODE`` if set, else ``full`` on a GPU and ``quick`` otherwise."""
    value = os.environ.get(MODE_ENV, "").strip().lower()
    if not value:
        return "full" if gpu_visible() else "quick"
    if value not in MODES:
        raise ValueError(
            f"{MODE_ENV}={value!r} is not a mode; use one of {', '.join(MODES)} "
            f"(or leave it unset to pick full on a GPU and quick otherwise)."
        )
    return value


def grading() -> bool:
    """True while nbgrader executes the notebook (autograde or validate)."""
    return bool(os.environ.get("NBGRADER_EXECUTION"))


def offline() -> bool:
    """True when downloads are forbidden (``DLCOURSE_OFFLINE=1``)."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Budget:
    """Turns full-mode sizes into the sizes the active profile allows."""

    profile_name: str

    @property
    def profile(self) -> Profile:
        return PROFILES[self.profile_name]

    @property
    def mode(self) -> str:
        return self.profile_name.rsplit("-", 1)[-1]

    @property
    def grading(self) -> bool:
        return self.profile_name.startswith("grade-")

    def epochs(self, full: int) -> int:
        """Epochs for a run that takes ``full`` epochs in full mode (always at least 1)."""
        _check_positive("epochs", full)
        scaled = max(1, math.ceil(full * self.profile.epoch_fraction))
        return _cap(scaled, self.profile.max_epochs)

    def steps(self, full: int) -> int:
        """Optimisation steps or iterations of a custom loop (always at least 1)."""
        _check_positive("steps", full)
        scaled = max(1, math.ceil(full * self.profile.epoch_fraction))
        return _cap(scaled, self.profile.max_steps)

    def samples(self, full: int) -> int:
        """Number of examples to use out of ``full`` (never more than ``full``)."""
        _check_positive("samples", full)
        return _cap(full, self.profile.max_samples)

    def __str__(self) -> str:
        p = self.profile
        caps = ", ".join(
            f"{k}<={v:,}"
            for k, v in (("epochs", p.max_epochs), ("samples", p.max_samples), ("steps", p.max_steps))
            if v is not None
        )
        return f"budget {self.profile_name} (epochs x{p.epoch_fraction:g}{', ' + caps if caps else ''})"


def _check_positive(what: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"budget.{what}() takes a positive whole number, got {value!r}")


def _cap(value: int, cap: int | None) -> int:
    return value if cap is None else min(value, cap)


def budget() -> Budget:
    """The budget for the active mode (the grading budget while nbgrader runs the notebook)."""
    name = mode()
    return Budget(f"grade-{name}" if grading() else name)
