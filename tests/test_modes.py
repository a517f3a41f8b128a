import pytest

from dlcourse import modes


@pytest.fixture
def env(monkeypatch):
    for name in ("DLCOURSE_MODE", "NBGRADER_EXECUTION", "DLCOURSE_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_mode_follows_the_environment_variable(env):
    env.setenv("DLCOURSE_MODE", "full")
    assert modes.mode() == "full"
    env.setenv("DLCOURSE_MODE", " Quick ")
    assert modes.mode() == "quick"


def test_default_mode_depends_on_gpu(env):
    env.setattr(modes, "gpu_visible", lambda: False)
    assert modes.mode() == "quick"
    env.setattr(modes, "gpu_visible", lambda: True)
    assert modes.mode() == "full"


def test_bad_mode_is_a_clear_error(env):
    env.setenv("DLCOURSE_MODE", "fast")
    with pytest.raises(ValueError, match="'fast' is not a mode; use one of quick, full"):
        modes.mode()


def test_budget_scales_full_mode_numbers(env):
    env.setenv("DLCOURSE_MODE", "quick")
    quick = modes.budget()
    assert (quick.epochs(20), quick.epochs(3), quick.epochs(1)) == (5, 1, 1)
    assert (quick.samples(60_000), quick.samples(1_000)) == (5_000, 1_000)
    assert quick.steps(1_000) == 200
    env.setenv("DLCOURSE_MODE", "full")
    full = modes.budget()
    assert (full.epochs(20), full.samples(60_000), full.steps(1_000)) == (20, 60_000, 1_000)


def test_grading_budget_applies_under_nbgrader(env):
    env.setenv("DLCOURSE_MODE", "quick")
    env.setenv("NBGRADER_EXECUTION", "autograde")
    b = modes.budget()
    assert b.profile_name == "grade-quick" and b.grading and b.mode == "quick"
    assert (b.epochs(20), b.samples(60_000)) == (3, 3_000)
    env.setenv("DLCOURSE_MODE", "full")
    assert modes.budget().epochs(100) == 10


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "10"])
def test_budget_rejects_non_positive_whole_numbers(env, bad):
    with pytest.raises(ValueError, match="positive whole number"):
        modes.budget().epochs(bad)


def test_offline_flag(env):
    assert not modes.offline()
    env.setenv("DLCOURSE_OFFLINE", "1")
    assert modes.offline()


@pytest.fixture
def no_driver(env, tmp_path):
    """A machine whose NVIDIA driver lists no GPU, with ``nvidia-smi`` on the PATH (as on a
    Colab CPU runtime) unless a test removes it."""
    env.setattr(modes, "NVIDIA_GPUS", tmp_path / "no-such-folder")
    env.setattr(modes.shutil, "which", lambda name: f"/usr/bin/{name}")
    env.delenv("COLAB_GPU", raising=False)
    return env


@pytest.mark.parametrize("value", ["0", "", " ", "false"])
def test_colab_cpu_runtime_is_quick_mode(no_driver, value):
    """Colab sets COLAB_GPU=0 on CPU runtimes: that (or an empty value) means no GPU, even with
    nvidia-smi on the PATH."""
    no_driver.setenv("COLAB_GPU", value)
    assert not modes.gpu_visible()
    assert modes.mode() == "quick"


def test_colab_gpu_runtime_is_full_mode(no_driver):
    no_driver.setenv("COLAB_GPU", "1")
    no_driver.setattr(modes.shutil, "which", lambda name: None)
    assert modes.gpu_visible()
    assert modes.mode() == "full"


def test_gpu_outside_colab(no_driver, tmp_path):
    assert modes.gpu_visible(), "nvidia-smi on the PATH counts outside Colab"
    no_driver.setattr(modes.shutil, "which", lambda name: None)
    assert not modes.gpu_visible()
    gpus = tmp_path / "gpus"
    (gpus / "0000:00:04.0").mkdir(parents=True)
    no_driver.setattr(modes, "NVIDIA_GPUS", gpus)
    no_driver.setenv("COLAB_GPU", "0")
    assert modes.gpu_visible(), "a GPU the driver lists counts whatever COLAB_GPU says"
