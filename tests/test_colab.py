"""Colab badges and setup cells: `make colab` refuses while course.toml names no published
repository, instead of writing links that 404."""

import tomllib
from pathlib import Path

import nbformat
import pytest

from dlcourse.tools import nbtools

ROOT = Path(__file__).resolve().parents[1]


def _course(tmp_path, toml: str) -> Path:
    """A course folder with one lecture notebook written under the placeholder settings."""
    (tmp_path / "course.toml").write_text('[course]\nrepo = "https://github.com/placeholder/course"\nbranch = "main"\n')
    nb_path = tmp_path / "lectures" / "01_x.ipynb"
    nbtools.write_notebook(nb_path, [nbtools.md("# x"), nbtools.code("x = 1")])
    (tmp_path / "course.toml").write_text(toml)
    return nb_path


def test_committed_course_is_marked_unpublished():
    """The repository URL is a placeholder until the course is published: course.toml says so
    explicitly, and the committed notebooks still carry cells that match it."""
    with open(ROOT / "course.toml", "rb") as handle:
        settings = tomllib.load(handle)["course"]
    assert settings["published"] is False
    assert "placeholder" in (ROOT / "course.toml").read_text()
    with pytest.raises(nbtools.NotPublished):
        nbtools.published_settings(ROOT)


@pytest.mark.parametrize("toml", [
    '[course]\npublished = false\nrepo = "https://github.com/real/course"\nbranch = "main"\n',
    '[course]\nrepo = "https://github.com/real/course"\nbranch = "main"\n',  # no flag: not published
    '[course]\npublished = true\nrepo = ""\nbranch = "main"\n',
    '[course]\npublished = true\nrepo = "https://gitlab.com/real/course"\nbranch = "main"\n',
    '[course]\npublished = true\nrepo = "https://github.com/real"\nbranch = "main"\n',
    '[course]\npublished = true\nrepo = "https://github.com/real/course"\nbranch = ""\n',
    '[course]\npublished = "yes"\nrepo = "https://github.com/real/course"\nbranch = "main"\n',
])
def test_make_colab_refuses_and_changes_nothing(tmp_path, monkeypatch, capsys, toml):
    nb_path = _course(tmp_path, toml)
    before = nb_path.read_bytes()
    monkeypatch.chdir(tmp_path)
    assert nbtools.main(["colab"]) == 1
    err = capsys.readouterr().err
    assert "Nothing was changed" in err and "course.toml" in err
    assert nb_path.read_bytes() == before, "a refused `make colab` leaves every notebook as it was"


def test_refusal_message_says_what_to_do(tmp_path, monkeypatch, capsys):
    _course(tmp_path, (ROOT / "course.toml").read_text())
    monkeypatch.chdir(tmp_path)
    assert nbtools.main(["colab"]) == 1
    err = capsys.readouterr().err
    assert "not published yet" in err and "placeholder" in err and "published = true" in err and "404" in err


def test_make_colab_rewrites_once_published(tmp_path, monkeypatch, capsys):
    nb_path = _course(tmp_path, '[course]\npublished = true\nrepo = "https://github.com/real/course"\nbranch = "v1"\n')
    monkeypatch.chdir(tmp_path)
    assert nbtools.main(["colab"]) == 0
    assert "rewrote Colab cells" in capsys.readouterr().out
    nb = nbformat.read(nb_path, as_version=4)
    assert "colab.research.google.com/github/real/course/blob/v1/lectures/01_x.ipynb" in nb.cells[0].source
    assert "git+https://github.com/real/course@v1" in nb.cells[1].source
    assert nbtools.main(["colab"]) == 0 and "rewrote" not in capsys.readouterr().out
