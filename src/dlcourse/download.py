"""Checksummed, cached downloads with a socket timeout.

``keras.datasets`` downloads can hang without a timeout and fail offline with a bare
``Exception``; every download in the course goes through :func:`fetch` instead, which
always has a timeout, always checks SHA-256, and says in plain words what went wrong.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

CACHE_ENV = "DLCOURSE_CACHE"
DEFAULT_TIMEOUT_S = 30.0
_CHUNK = 1 << 20


class DownloadError(OSError):
    """A file could not be downloaded (network down, HTTP error, timeout)."""


class ChecksumError(ValueError):
    """A downloaded file does not have the SHA-256 the course expects."""


def cache_dir() -> Path:
    """Where downloads are kept: ``$DLCOURSE_CACHE`` or ``~/.cache/dlcourse``."""
    root = os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "dlcourse"
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(
    url: str,
    sha256: str,
    filename: str | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT_S,
    progress: bool = True,
) -> Path:
    """Return a local path to ``url``'s content, downloading it into the cache if needed.

    A cached file whose checksum does not match (a broken earlier download, say) is reported
    and downloaded again. A fresh download with the wrong checksum raises :class:`ChecksumError`.
    """
    target = cache_dir() / (filename or url.rstrip("/").rsplit("/", 1)[-1])
    if target.exists():
        found = sha256_of(target)
        if found == sha256:
            return target
        print(
            f"[dlcourse] cached {target.name} is corrupt (sha256 {found[:12]}..., "
            f"expected {sha256[:12]}...); downloading it again",
            file=sys.stderr,
        )
        target.unlink()
    tmp = _download(url, target.parent, timeout=timeout, progress=progress)
    found = sha256_of(tmp)
    if found != sha256:
        tmp.unlink()
        raise ChecksumError(
            f"{url} downloaded, but its sha256 is {found}, not {sha256}. The file on the server "
            "changed or the download was tampered with; nothing was kept."
        )
    shutil.move(str(tmp), target)
    return target


def _download(url: str, folder: Path, *, timeout: float, progress: bool) -> Path:
    fd, name = tempfile.mkstemp(dir=folder, suffix=".part")
    tmp = Path(name)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, os.fdopen(fd, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0)
            bar = _progress_bar(total, url) if progress else None
            while block := response.read(_CHUNK):
                out.write(block)
                if bar is not None:
                    bar.update(len(block))
            if bar is not None:
                bar.close()
    except (urllib.error.URLError, OSError, ValueError) as exc:
        tmp.unlink(missing_ok=True)
        reason = getattr(exc, "reason", None) or exc
        raise DownloadError(f"could not download {url}: {reason}") from exc
    return tmp


def _progress_bar(total: int, url: str):
    # Only worth a bar for downloads of a few megabytes and more.
    if total < 4 * _CHUNK:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # tqdm is a dependency, but a bar is not worth failing for
        return None
    return tqdm(total=total, unit="B", unit_scale=True, desc=url.rsplit("/", 1)[-1])
