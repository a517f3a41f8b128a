"""A throwaway PostgreSQL server for tests: started in a temporary folder, removed on exit.

    with temporary_server() as url:   # postgresql+psycopg2://dlcourse@127.0.0.1:PORT/gradebook
        ...

The server listens on 127.0.0.1 only (a free port; its unix socket lives in the temporary
folder), trusts every loopback connection and runs with fsync off: it holds nothing worth
keeping. PostgreSQL refuses to run as root, so under root initdb and postgres run as the
``postgres`` system user, on a folder made with ``tempfile.mkdtemp`` and handed to that user.
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

SUPERUSER = "dlcourse"
START_TIMEOUT_S = 60


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries here (or no user that may run them)."""


def _has_server(bindir: Path) -> bool:
    return all(os.access(bindir / tool, os.X_OK) for tool in ("initdb", "pg_ctl", "postgres"))


def _version(bindir: str) -> tuple[int, ...]:
    match = re.search(r"/postgresql/([\d.]+)/", bindir)
    return tuple(int(x) for x in match.group(1).split(".") if x) if match else ()


def find_bindir() -> Path:
    """The folder of initdb, pg_ctl and postgres: ``pg_config --bindir``, the newest
    /usr/lib/postgresql/*/bin, or PATH. Raises PostgresUnavailable when none has them."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=30)
            if out.returncode == 0 and out.stdout.strip():
                candidates.append(Path(out.stdout.strip()))
        except (OSError, subprocess.SubprocessError):
            pass
    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version, reverse=True)]
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).resolve().parent)
    for bindir in candidates:
        if _has_server(bindir):
            return bindir
    looked = ", ".join(dict.fromkeys(str(c) for c in candidates)) or "nothing found"
    raise PostgresUnavailable(
        "no PostgreSQL server binaries (initdb, pg_ctl, postgres): looked at pg_config --bindir, "
        f"/usr/lib/postgresql/*/bin and PATH ({looked}); install them, e.g. apt-get install postgresql"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Runner:
    """Runs server commands as this user, or as ``postgres`` when this user is root."""

    def __init__(self, cwd: Path):
        self.cwd = cwd
        self.prefix: list[str] = []
        self.user: str | None = None
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                raise PostgresUnavailable(
                    "running as root, and PostgreSQL refuses to: there is no 'postgres' system user to run it as"
                ) from None
            runuser = shutil.which("runuser") or next(
                (p for p in ("/usr/sbin/runuser", "/sbin/runuser") if os.access(p, os.X_OK)), None
            )
            if runuser:
                self.prefix = [runuser, "-u", "postgres", "--"]
            else:  # no util-linux runuser: let subprocess switch the user
                self.user = "postgres"

    def run(self, cmd: list[str], timeout: float = START_TIMEOUT_S) -> subprocess.CompletedProcess:
        kwargs = {"user": self.user, "group": self.user, "extra_groups": []} if self.user else {}
        return subprocess.run(
            self.prefix + cmd, cwd=self.cwd, capture_output=True, text=True, timeout=timeout,
            stdin=subprocess.DEVNULL, **kwargs,
        )


def _check(proc: subprocess.CompletedProcess, what: str, log: Path | None = None) -> None:
    if proc.returncode == 0:
        return
    tail = ""
    if log is not None and log.exists():
        tail = "\n--- server log ---\n" + log.read_text(errors="replace")[-3000:]
    raise RuntimeError(f"PostgreSQL: {what} failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}{tail}")


@contextmanager
def temporary_server(dbname: str = "gradebook") -> Iterator[str]:
    """Start a scratch PostgreSQL server with one database; yield its SQLAlchemy URL."""
    bindir = find_bindir()
    base = Path(tempfile.mkdtemp(prefix="dlcourse-pg-"))
    data, sockets, log = base / "data", base / "sockets", base / "server.log"
    started = False
    try:
        runner = _Runner(base)
        sockets.mkdir()
        if runner.prefix or runner.user:  # root: the whole folder belongs to postgres
            os.chmod(base, 0o700)
            for path in (base, sockets):
                shutil.chown(path, "postgres", "postgres")
        _check(runner.run([
            str(bindir / "initdb"), "-D", str(data), "-U", SUPERUSER, "-E", "UTF8", "--locale=C",
            "--auth-local=trust", "--auth-host=trust", "--no-sync",
        ]), "initdb")
        # the server only listens on loopback (pg_hba.conf from initdb trusts local and loopback)
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{sockets}'",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "100",
        }
        for attempt in range(3):  # another process may take the free port before the server does
            port = _free_port()
            settings["port"] = str(port)
            with open(data / "postgresql.auto.conf", "a") as conf:
                conf.write("".join(f"{k} = {v}\n" for k, v in settings.items()))
            proc = runner.run([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w",
                               "-t", str(START_TIMEOUT_S), "start"], timeout=START_TIMEOUT_S + 10)
            if proc.returncode == 0:
                started = True
                break
            if attempt == 2 or "could not bind" not in (log.read_text(errors="replace") if log.exists() else ""):
                _check(proc, "starting the server", log)
        createdb = str(bindir / "createdb") if os.access(bindir / "createdb", os.X_OK) else shutil.which("createdb")
        if not createdb:
            raise PostgresUnavailable(f"no createdb next to the server binaries ({bindir}) or on PATH")
        created = subprocess.run(
            [createdb, "-h", "127.0.0.1", "-p", str(port), "-U", SUPERUSER, dbname],
            capture_output=True, text=True, timeout=START_TIMEOUT_S, stdin=subprocess.DEVNULL,
            env={**os.environ, "PGPASSWORD": ""},
        )
        _check(created, f"createdb {dbname}", log)
        yield f"postgresql+psycopg2://{SUPERUSER}@127.0.0.1:{port}/{dbname}"
    finally:
        try:
            if started:
                stop = runner.run([str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "-t", "30", "stop"])
                if stop.returncode != 0:
                    runner.run([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"])
        finally:
            shutil.rmtree(base, ignore_errors=True)
