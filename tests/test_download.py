"""The downloader against a real HTTP server on loopback."""

import hashlib
import http.server
import threading
import time

import pytest

from dlcourse import download

PAYLOAD = b"course data " * 1000
SHA = hashlib.sha256(PAYLOAD).hexdigest()


class Handler(http.server.BaseHTTPRequestHandler):
    hits = 0

    def do_GET(self):
        type(self).hits += 1
        if self.path == "/slow":
            time.sleep(2)
        if self.path == "/missing":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(PAYLOAD)))
        self.end_headers()
        self.wfile.write(PAYLOAD)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    Handler.hits = 0
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DLCOURSE_CACHE", str(tmp_path))
    return tmp_path


def test_download_checks_and_caches(server, cache):
    path = download.fetch(f"{server}/data.bin", SHA)
    assert path.read_bytes() == PAYLOAD and path.parent == cache
    assert download.fetch(f"{server}/data.bin", SHA) == path
    assert Handler.hits == 1, "a valid cached file must not be downloaded again"


def test_corrupt_cache_is_downloaded_again(server, cache, capsys):
    (cache / "data.bin").write_bytes(b"truncated")
    path = download.fetch(f"{server}/data.bin", SHA)
    assert path.read_bytes() == PAYLOAD and Handler.hits == 1
    assert "is corrupt" in capsys.readouterr().err


def test_wrong_checksum_keeps_nothing(server, cache):
    with pytest.raises(download.ChecksumError, match="sha256 is .* not 0000"):
        download.fetch(f"{server}/data.bin", "0" * 64)
    assert list(cache.iterdir()) == []


def test_http_error_is_a_download_error(server, cache):
    with pytest.raises(download.DownloadError, match="could not download .*/missing"):
        download.fetch(f"{server}/missing", SHA)
    assert list(cache.iterdir()) == []


def test_timeout_is_a_download_error(server):
    start = time.perf_counter()
    with pytest.raises(download.DownloadError, match="could not download"):
        download.fetch(f"{server}/slow", SHA, timeout=0.3)
    assert time.perf_counter() - start < 1.9


def test_unreachable_host_is_a_download_error():
    with pytest.raises(download.DownloadError):
        download.fetch("http://127.0.0.1:9/nothing-listens-here", SHA, timeout=2)
