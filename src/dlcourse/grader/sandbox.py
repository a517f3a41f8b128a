"""Start the grading kernel in a whitelist sandbox (bubblewrap), where nothing of the course exists.

nbgrader runs a submission in ``<course>/autograded/<student>/<assignment>/``, two levels below
``solutions/`` (the answers), ``gradebook.db`` (hidden tests and everyone's grades), the other
students' submissions and the repository's history. During grading every kernel named
``python3`` starts through this launcher (``install_kernelspec``, put first on JUPYTER_PATH by
``nbgrading.nbgrader_env``), which runs ipykernel under ``bwrap`` (bubblewrap) with a fresh,
empty root file system in which only this exists:

* read-only: ``/usr``, ``/bin``, ``/sbin``, ``/lib``, ``/lib64``, ``/etc`` (without
  ``shadow``/``gshadow``/``ssh``); the Python environment (``sys.prefix``, ``sys.base_prefix``,
  the real path of every ``sys.path`` folder, e.g. the editable install's ``src/``, but never
  ``/``, the home folder, the repository root or a folder above the submission, nor a folder of
  the repository or the course other than ``src/``); the data caches
  (``dlcourse.download.cache_dir()``, ``~/.keras``, ``~/nltk_data``, ``~/.cache/dlcourse`` and
  the paths in ``DLCOURSE_SANDBOX_READ``, separated by ``os.pathsep``); ``/dev/nvidia*`` when
  present (the GPU);
* a private ``/proc`` (own PID namespace), a minimal ``/dev``, an empty private ``/tmp`` with
  ``HOME=/tmp/home``;
* the submission folder, at its real path, as a private writable copy (a 512 MB tmpfs filled
  from a read-only mount of the real folder, hidden ``.grader/`` included): whatever the kernel
  writes there (notebooks, invalid JSON, huge files, symlinks) vanishes with the sandbox.

Everything else (home folders, ``/work``, other clones, the gradebook, ``solutions/``, other
students' folders, other kernels' temp files) does not exist for the kernel. All namespaces
are unshared (no network: the loopback is the sandbox's own), all capabilities are dropped,
the root is read-only, and the sandbox dies with the launcher (``--die-with-parent``).
Environment variables that look like secrets (``*PASS*``, ``*TOKEN*``, ``*SECRET*``, ``PG*``,
...) are removed; the kernel gets ``DLCOURSE_SANDBOXED=bwrap``, and ``DLCOURSE_CACHE``,
``KERAS_HOME``, ``NLTK_DATA`` pointing at the real (read-only) caches, since HOME moved.

Since the kernel has no network, it cannot serve jupyter_client's TCP ports itself: it binds
Unix sockets in a private folder (``ipc`` transport), and the launcher, which stays outside as
the kernel's process, forwards each port (byte for byte) to them. SIGINT, which jupyter_client
sends to the kernel's process group to interrupt a cell, is ignored by the launcher and by
``bwrap`` and reaches ipykernel, which turns it into ``KeyboardInterrupt`` (no
``--new-session``, on purpose). ``wrap()`` builds the same sandbox around any command, for
trusted helper processes that must be isolated as well.

``DLCOURSE_SANDBOX`` picks the policy: ``required`` (default: bubblewrap or the kernel refuses
to start, with the reason on stderr), ``auto`` (bubblewrap if it works; else the older
*blacklist* fallback, ``unshare --mount`` with empty tmpfs over the named course folders, which
leaves the rest of the machine and the network open, ``DLCOURSE_SANDBOXED=unshare``; else a
plain kernel with a loud warning) or ``off`` (plain kernel, ``DLCOURSE_SANDBOXED=0``).
``isolation()`` says in one line what a kernel gets on this machine now (``make grade`` prints
it).

Limits: CPU and memory are not limited here (the grader's per-cell timeout bounds time; the
private ``/tmp`` is a tmpfs of at most 1 GB), the kernel runs with the grader's uid (without
capabilities), and read-only folders of the whitelist (the Python environment, the caches)
are readable. Do not put secrets there.
"""

from __future__ import annotations

import asyncio
import functools
import glob
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Iterable, Sequence

POLICY_ENV = "DLCOURSE_SANDBOX"
READ_ENV = "DLCOURSE_SANDBOX_READ"
MARK_ENV = "DLCOURSE_SANDBOXED"
POLICIES = ("required", "auto", "off")

WORK_TMPFS_BYTES = 512 * 1024 * 1024  # the private copy of the submission folder
TMP_TMPFS_BYTES = 1024 * 1024 * 1024  # the private /tmp (HOME lives there)
INSIDE = "/run/dlcourse"  # where the launcher's own mounts live inside the sandbox
INSIDE_ORIG = f"{INSIDE}/orig"  # the real working folder, read-only, source of the copy
INSIDE_IPC = f"{INSIDE}/ipc"  # the kernel's Unix sockets (read-write, shared with the launcher)
INSIDE_CONNECTION = f"{INSIDE}/kernel.json"
HOME_INSIDE = "/tmp/home"
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/etc")
ETC_SECRETS = ("/etc/shadow", "/etc/gshadow", "/etc/shadow-", "/etc/gshadow-", "/etc/ssh")
# variables pointing at folders the sandbox does not have; the kernel falls back to HOME
UNSET_ENV = ("JUPYTER_RUNTIME_DIR", "JUPYTER_DATA_DIR", "JUPYTER_CONFIG_DIR", "JUPYTER_PATH",
             "IPYTHONDIR", "MPLCONFIGDIR", "XDG_RUNTIME_DIR", "XDG_CACHE_HOME", "XDG_CONFIG_HOME",
             "XDG_DATA_HOME", "XDG_STATE_HOME", "TMP", "TEMP", "PYTHONSTARTUP", "PWD", "OLDPWD")
SECRET_ENV = re.compile(r"PASS|SECRET|TOKEN|CREDENTIAL|API_?KEY|PRIVATE|AUTH|COOKIE|DB_URL|DATABASE_URL"
                        r"|^PG|^AWS_|^GH_|^GITHUB_|^SSH_|^GPG_|^AZURE_|^GOOGLE_APPLICATION", re.I)
# the blacklist fallback (DLCOURSE_SANDBOX=auto without bubblewrap)
SENSITIVE = ("solutions", "source", "gradebook.db", "submitted", "autograded", "feedback", "downloaded",
             "release_archive", "reports", "grader_tests", ".git", ".nbgrader.log")
KERNEL_PORTS = ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")
_COPY_SCRIPT = (
    'dest=$1; shift\n'
    f'/usr/bin/env PATH=/usr/bin:/bin cp -R -P --preserve=mode,timestamps {INSIDE_ORIG}/. "$dest"/ '
    '|| echo "dlcourse sandbox: could not copy all of $dest into its private copy" >&2\n'
    'cd "$dest" || exit 70\n'
    'exec "$@"\n'
)


# ------------------------------------------------------------------ what the sandbox may read
def _repo_root() -> Path | None:
    """The repository this package is installed from (editable install), if any."""
    root = Path(__file__).resolve().parents[3]
    return root if (root / "src" / "dlcourse").is_dir() else None


def _too_broad(path: Path, cwd: Path) -> bool:
    """A folder that must never be made visible whole: ``/``, the home folder, the repository
    root (or above) and any folder that holds the working folder (the course tree)."""
    home = Path.home().resolve()
    roots = [r for r in (_repo_root(),) if r is not None]
    return (path == Path("/") or path == home or home.is_relative_to(path) or cwd.is_relative_to(path)
            or any(r.is_relative_to(path) for r in roots))


def _exposes_too_much(cwd: Path) -> bool:
    """A working folder that may not be shown (or copied) whole: ``/``, a home folder, the
    repository or a course root, or a folder above one of them."""
    repo = _repo_root()
    return (cwd == Path("/") or Path.home().resolve().is_relative_to(cwd) or cwd.parent == Path("/home")
            or (repo is not None and repo.is_relative_to(cwd)) or (cwd / "nbgrader_config.py").exists())


def _under_system(path: Path) -> bool:
    return any(path.is_relative_to(d) for d in SYSTEM_DIRS)


def read_paths(cwd: Path, extra: Iterable[Path] = ()) -> list[Path]:
    """Folders and files the sandbox binds read-only at their real paths (besides the system
    dirs): the Python environment, the data caches, ``DLCOURSE_SANDBOX_READ`` and ``extra``."""
    from ..download import cache_dir

    cwd = cwd.resolve()
    prefixes = [Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve()]
    python = [*prefixes, Path(sys.executable).resolve().parent]
    # sys.path folders, except those inside the repository or the course other than src/ and the
    # environment (a PYTHONPATH of grader_tests/ or of the course must not open them)
    trees = [r for r in (_repo_root(), course_root_of(cwd)) if r is not None]
    for entry in (Path(p) for p in sys.path if p):
        real = entry.resolve() if entry.is_absolute() else None
        if real is None or any(real.is_relative_to(t) and not real.is_relative_to(t / "src")
                               and not any(real.is_relative_to(p) for p in prefixes) for t in trees):
            continue
        python.append(real)
    home = Path.home()
    data = [cache_dir(), home / ".keras", home / "nltk_data", home / ".cache" / "dlcourse"]
    data += [Path(p) for p in os.environ.get("KERAS_HOME", "").split(os.pathsep) if p]
    data += [Path(p) for p in os.environ.get("NLTK_DATA", "").split(os.pathsep) if p]
    asked = [Path(p) for p in os.environ.get(READ_ENV, "").split(os.pathsep) if p] + [Path(p) for p in extra]
    chosen: list[Path] = []
    for candidate in [*python, *data, *asked]:
        if not candidate.is_absolute() or not candidate.exists():
            continue
        path = candidate.resolve()
        if _under_system(path) or path in chosen:
            continue
        if _too_broad(path, cwd):
            if candidate in asked:
                print(f"dlcourse sandbox: not making {path} readable: it holds the home folder, the "
                      "repository or the submission's course", file=sys.stderr)
            continue
        chosen.append(path)
    # parents first; a folder inside one already bound needs no mount of its own
    kept: list[Path] = []
    for path in sorted(chosen, key=lambda p: (len(p.parts), str(p))):
        if not any(path.is_relative_to(k) for k in kept):
            kept.append(path)
    return kept


def _system_args() -> list[str]:
    args: list[str] = []
    for name in SYSTEM_DIRS:
        path = Path(name)
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), name]
        elif path.is_dir():
            args += ["--ro-bind", name, name]
    for secret in ETC_SECRETS:
        if os.path.isdir(secret):
            args += ["--tmpfs", secret]
        elif os.path.lexists(secret):
            args += ["--ro-bind", "/dev/null", secret]
    return args


def _env_args(cwd: Path) -> list[str]:
    from ..download import cache_dir

    # JPY_PARENT_PID=1: the kernel's parent is the sandbox's init (pid 1); ipykernel would take a
    # different pid for a dead parent and quit (--die-with-parent does that job here)
    args = ["--setenv", "HOME", HOME_INSIDE, "--setenv", "TMPDIR", "/tmp", "--setenv", MARK_ENV, "bwrap",
            "--setenv", "JPY_PARENT_PID", "1",
            "--setenv", "DLCOURSE_CACHE", str(cache_dir().resolve())]
    keras, nltk = Path.home() / ".keras", Path.home() / "nltk_data"
    if "KERAS_HOME" not in os.environ and keras.is_dir():
        args += ["--setenv", "KERAS_HOME", str(keras.resolve())]
    if "NLTK_DATA" not in os.environ and nltk.is_dir():
        args += ["--setenv", "NLTK_DATA", str(nltk.resolve())]
    for name in sorted({*UNSET_ENV, *(n for n in os.environ if SECRET_ENV.search(n))}):
        args += ["--unsetenv", name]
    return args


def _bwrap() -> str | None:
    return shutil.which("bwrap")


def bwrap_command(argv: Sequence[str], *, cwd: Path, extra_read: Iterable[Path] = (), copy_cwd: bool = True,
                  binds: Sequence[tuple[str, str, str]] = ()) -> list[str]:
    """The bwrap command line (no probing; see :func:`wrap`). ``binds``: extra (option, source,
    destination) mounts, added last, e.g. the kernel's socket folder."""
    bwrap = _bwrap() or "bwrap"
    cwd = Path(cwd).resolve()
    scratch = cwd in {Path("/tmp"), Path(tempfile.gettempdir()).resolve()}
    if not scratch and _exposes_too_much(cwd):
        raise RuntimeError(f"dlcourse sandbox: refusing to start in {cwd}: it is /, a home folder, the "
                           "repository or a course root (or above one); start in the submission's folder")
    args = [bwrap, "--unshare-all", "--die-with-parent", "--cap-drop", "ALL", *_system_args(),
            "--proc", "/proc", "--dev", "/dev"]
    for device in sorted(glob.glob("/dev/nvidia*")):
        args += ["--dev-bind-try", device, device]
    args += ["--size", str(TMP_TMPFS_BYTES), "--tmpfs", "/tmp", "--dir", HOME_INSIDE]
    for path in read_paths(cwd, extra_read):
        args += ["--ro-bind", str(path), str(path)]
    if scratch:  # the temp folder itself: an empty private one (the real one holds other runs' files)
        copy_cwd = False
        args += [] if cwd == Path("/tmp") else ["--size", str(TMP_TMPFS_BYTES), "--tmpfs", str(cwd)]
    elif copy_cwd:
        args += ["--ro-bind", str(cwd), INSIDE_ORIG, "--size", str(WORK_TMPFS_BYTES), "--tmpfs", str(cwd)]
    else:
        args += ["--ro-bind", str(cwd), str(cwd)]
    for option, source, destination in binds:
        args += [option, source, destination]
    args += ["--remount-ro", "/", *_env_args(cwd)]
    if copy_cwd:
        return [*args, "--chdir", "/", "--", "/bin/sh", "-c", _COPY_SCRIPT, "dlcourse-sandbox", str(cwd), *argv]
    return [*args, "--chdir", str(cwd), "--", *argv]


# ------------------------------------------------------------------ probes
@functools.lru_cache(maxsize=None)
def bwrap_problem() -> str | None:
    """Why bubblewrap cannot build the sandbox on this machine (None: it can). Probed once."""
    if _bwrap() is None:
        return "bwrap is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
    probe = [_bwrap(), "--unshare-all", "--die-with-parent", "--cap-drop", "ALL", *_system_args(),
             "--proc", "/proc", "--dev", "/dev", "--size", str(1 << 20), "--tmpfs", "/tmp",
             "--remount-ro", "/", "--", "/bin/sh", "-c", "echo ok > /tmp/probe && cat /tmp/probe"]
    try:
        proc = subprocess.run(probe, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"bwrap failed to run: {err}"
    if proc.returncode != 0 or proc.stdout.strip() != "ok":
        detail = (proc.stderr.strip() or proc.stdout.strip())[-300:]
        return (f"bwrap cannot create namespaces here ({detail}); user namespaces may be disabled or "
                "restricted by AppArmor (Ubuntu 24.04), or the container lacks the privilege")
    return None


@functools.lru_cache(maxsize=None)
def unshare_works() -> bool:
    """Whether the blacklist fallback (``unshare --mount``) works here. Probed once."""
    if shutil.which("unshare") is None:
        return False
    probe = unshare_command("mount -t tmpfs tmpfs \"$(mktemp -d)\" && exec \"$@\"", ["true"])
    try:
        return subprocess.run(probe, capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _policy(policy: str | None) -> str:
    policy = (policy or os.environ.get(POLICY_ENV) or "required").strip().lower()
    if policy not in POLICIES:
        raise ValueError(f"{POLICY_ENV}={policy!r}: expected one of {', '.join(POLICIES)}")
    return policy


BWRAP_DESCRIPTION = "bubblewrap whitelist sandbox (no network, private /tmp, read-only Python and data)"
UNSHARE_DESCRIPTION = ("unshare blacklist fallback: the course's solutions/, gradebook and other students' "
                       "folders and the repository's .git are hidden; the rest of the machine is readable "
                       "and the network is open")
NONE_DESCRIPTION = "NONE: kernels can read every file of this machine"


def kind(policy: str | None = None) -> str | None:
    """The isolation a grading kernel gets now: ``"bwrap"``, ``"unshare"``, ``"none"``, or None
    when the policy is ``required`` and bubblewrap does not work (the kernel will not start)."""
    policy = _policy(policy)
    if policy == "off":
        return "none"
    if bwrap_problem() is None:
        return "bwrap"
    if policy == "required":
        return None
    return "unshare" if unshare_works() else "none"


def isolation(policy: str | None = None) -> str:
    """One line on the isolation a grading kernel gets on this machine now, for ``make grade``."""
    policy = _policy(policy)
    got = kind(policy)
    if got == "bwrap":
        return BWRAP_DESCRIPTION
    if got is None:
        return (f"REFUSED: {POLICY_ENV}=required but {bwrap_problem()}; grading kernels will not start "
                f"(set {POLICY_ENV}=auto to accept a weaker sandbox)")
    if got == "unshare":
        return f"{UNSHARE_DESCRIPTION} (bubblewrap unusable: {bwrap_problem()})"
    if policy == "off":
        return f"{NONE_DESCRIPTION} ({POLICY_ENV}=off)"
    return f"{NONE_DESCRIPTION} (bubblewrap unusable: {bwrap_problem()}; unshare unusable too)"


def wrap(argv: list[str], *, cwd: Path, extra_read: Sequence[Path] = (), copy_cwd: bool = True) -> list[str]:
    """The full bwrap command that runs ``argv`` under the grading kernel's whitelist, starting in
    ``cwd``: with ``copy_cwd`` a private writable copy of it (as for kernels), else the real
    folder read-only; the temp folder (``/tmp``, ``$TMPDIR``) is always an empty private one, and
    ``/``, a home folder, the repository or a course root are refused. ``extra_read`` are further
    paths made readable. Communicate through
    stdin/stdout (there is no network). bwrap dies on SIGINT: start it with SIGINT ignored or in
    its own session if its parent's process group may be interrupted. Raises RuntimeError when
    bubblewrap does not work here or ``cwd`` is refused."""
    problem = bwrap_problem()
    if problem is not None:
        raise RuntimeError(f"dlcourse sandbox: cannot isolate {argv[:1]}: {problem}")
    return bwrap_command(list(argv), cwd=Path(cwd), extra_read=extra_read, copy_cwd=copy_cwd)


# ------------------------------------------------------------------ the blacklist fallback
def course_root_of(cwd: Path) -> Path | None:
    """The nearest folder above ``cwd`` that holds an nbgrader course (its config file)."""
    for folder in [cwd, *cwd.parents]:
        if (folder / "nbgrader_config.py").exists():
            return folder
    return None


def hidden_paths(cwd: Path) -> list[Path]:
    roots = {r for r in (course_root_of(cwd), _repo_root()) if r is not None}
    return sorted({root / name for root in roots for name in SENSITIVE if (root / name).exists()})


def mount_script(cwd: Path, hide: list[Path]) -> str:
    """Shell commands run inside the new mount namespace before the kernel starts (fallback)."""
    q = shlex.quote
    lines = ["set -e", "hold=$(mktemp -d)", f"mount --bind {q(str(cwd))} \"$hold\""]
    for path in hide:
        if path.is_dir():
            lines.append(f"mount -t tmpfs -o size=1m,mode=0755 tmpfs {q(str(path))}")
        else:
            lines.append(f"mount --bind /dev/null {q(str(path))}")
    # the student's folder lives under autograded/, which is now empty: mount it back
    lines += [f"mkdir -p {q(str(cwd))}", f"mount --bind \"$hold\" {q(str(cwd))}", f"cd {q(str(cwd))}",
              f"export {MARK_ENV}=unshare", 'exec "$@"']
    return "\n".join(lines)


def unshare_command(script: str, kernel: list[str]) -> list[str]:
    user_ns = ["--map-root-user"] if os.geteuid() != 0 else []
    return ["unshare", "--mount", "--propagation", "private", *user_ns, "--", "sh", "-c", script, "sandbox", *kernel]


# ------------------------------------------------------------------ the kernel launcher
def _connection_file(args: list[str]) -> tuple[int, str, Path]:
    """Where ipykernel's ``-f`` argument is in ``args``: (index, prefix of that item, path)."""
    for i, arg in enumerate(args):
        if arg in ("-f", "--f") and i + 1 < len(args):
            return i + 1, "", Path(args[i + 1])
        for prefix in ("-f=", "--f="):
            if arg.startswith(prefix):
                return i, prefix, Path(arg[len(prefix):])
    raise SystemExit("dlcourse sandbox: no connection file (-f FILE) among the kernel's arguments")


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(1 << 16):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        try:
            writer.close()
        except (ConnectionError, OSError):
            pass


async def _serve(proc: asyncio.subprocess.Process, info: dict, sockdir: Path) -> list[asyncio.AbstractServer]:
    """Listen where jupyter_client expects the kernel; forward each connection to the kernel's
    Unix socket ``<sockdir>/k-<port>`` (waiting while the kernel starts)."""

    def handler(port: int):
        async def forward(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            path = str(sockdir / f"k-{port}")
            try:
                for _ in range(1200):  # the kernel binds its sockets within seconds of starting
                    try:
                        inner_reader, inner_writer = await asyncio.open_unix_connection(path)
                        break
                    except (FileNotFoundError, ConnectionRefusedError):
                        if proc.returncode is not None:
                            return
                        await asyncio.sleep(0.05)
                else:
                    return
                await asyncio.gather(_pump(reader, inner_writer), _pump(inner_reader, writer))
            except (asyncio.CancelledError, OSError):
                pass
            finally:
                writer.close()
        return forward

    servers = []
    transport = info.get("transport", "tcp")
    for name in KERNEL_PORTS:
        port = int(info[name])
        if transport == "tcp":
            host = info.get("ip") or "127.0.0.1"
            servers.append(await asyncio.start_server(handler(port), "0.0.0.0" if host == "*" else host, port))
        else:
            servers.append(await asyncio.start_unix_server(handler(port), f"{info['ip']}-{port}"))
    return servers


async def _launch(command: list[str], info: dict, sockdir: Path) -> int:
    proc = await asyncio.create_subprocess_exec(*command)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, proc.terminate)
    try:
        servers = await _serve(proc, info, sockdir)
    except OSError as err:
        proc.kill()
        await proc.wait()
        print(f"dlcourse sandbox: cannot listen on the kernel's ports: {err}", file=sys.stderr)
        return 1
    code = await proc.wait()
    for server in servers:
        server.close()
    return code


def _remove_when_gone(folder: Path) -> None:
    """Remove ``folder`` once this process has ended, however it ends (SIGKILL included, which is
    how jupyter_client restarts a kernel): a shell in its own session waits for the end of a pipe
    whose other end only this process holds."""
    read_end, write_end = os.pipe()
    subprocess.Popen(["/bin/sh", "-c", 'while read -r _; do :; done; rm -rf -- "$0"', str(folder)],
                     stdin=read_end, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                     start_new_session=True, env={"PATH": "/usr/bin:/bin"})
    os.close(read_end)
    _KEEP.append(write_end)  # closed by the operating system when this process ends


_KEEP: list[int] = []


def _run_bwrap_kernel(args: list[str]) -> int:
    index, prefix, connection = _connection_file(args)
    info = json.loads(connection.read_text())
    if any(int(info.get(name, 0)) <= 0 for name in KERNEL_PORTS):
        raise SystemExit(f"dlcourse sandbox: {connection} lacks a port; the sandbox needs all five")
    if info.get("transport", "tcp") not in ("tcp", "ipc"):
        raise SystemExit(f"dlcourse sandbox: unknown transport {info.get('transport')!r}")
    # Unix socket paths are limited to 107 bytes: keep the folder short
    private = Path(tempfile.mkdtemp(prefix="dlcourse-kernel-", dir=None if len(tempfile.gettempdir()) < 60 else "/tmp"))
    _remove_when_gone(private)
    try:
        sockdir = private / "ipc"
        sockdir.mkdir(mode=0o700)
        inner = {**info, "transport": "ipc", "ip": f"{INSIDE_IPC}/k"}
        (private / "kernel.json").write_text(json.dumps(inner))
        kernel_args = list(args)
        kernel_args[index] = prefix + INSIDE_CONNECTION
        kernel = [sys.executable, "-m", "ipykernel_launcher", *kernel_args]
        command = bwrap_command(kernel, cwd=Path.cwd(), binds=[
            ("--bind", str(sockdir), INSIDE_IPC), ("--ro-bind", str(private / "kernel.json"), INSIDE_CONNECTION)])
        return asyncio.run(_launch(command, info, sockdir))
    finally:
        shutil.rmtree(private, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    """``python -m dlcourse.grader.sandbox <ipykernel arguments>``: the grading kernelspec's argv."""
    args = list(sys.argv[1:] if argv is None else argv)
    kernel = [sys.executable, "-m", "ipykernel_launcher", *args]
    try:
        policy = _policy(None)
    except ValueError as err:
        sys.exit(f"dlcourse sandbox: {err}")
    got = kind(policy)
    if got == "bwrap":
        # jupyter_client interrupts a cell with SIGINT to the kernel's process group: the launcher
        # and bwrap (which would die of it, taking the sandbox along) ignore it, and ipykernel
        # installs its own handler while it runs a cell
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            sys.exit(_run_bwrap_kernel(args))
        except RuntimeError as err:
            sys.exit(str(err))
    if got is None:
        sys.exit(f"dlcourse sandbox: {POLICY_ENV}=required but {bwrap_problem()}. Refusing to start a "
                 "grading kernel that could read the course's solutions and gradebook; see "
                 "docs/instructor_guide.md (or set DLCOURSE_SANDBOX=auto to accept a weaker sandbox).")
    if got == "unshare":
        print(f"dlcourse sandbox: WARNING: bubblewrap unusable ({bwrap_problem()}); using the {UNSHARE_DESCRIPTION}.",
              file=sys.stderr)
        cwd = Path.cwd()
        command = unshare_command(mount_script(cwd, hidden_paths(cwd)), kernel)
        os.execvp(command[0], command)
    if policy != "off":
        print("dlcourse sandbox: WARNING: NO SANDBOX: bubblewrap and unshare are both unusable "
              f"({bwrap_problem()}); this grading kernel can read every file of this machine, the "
              f"solutions and the gradebook included ({POLICY_ENV}=auto).", file=sys.stderr)
    os.environ[MARK_ENV] = "0"
    os.execv(kernel[0], kernel)


def install_kernelspec(folder: Path) -> Path:
    """Write a ``python3`` kernelspec that starts kernels through this launcher; put ``folder``
    first on JUPYTER_PATH and nbgrader's kernels (kernel name python3) go through it."""
    spec_dir = folder / "kernels" / "python3"
    spec_dir.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [sys.executable, "-m", "dlcourse.grader.sandbox", "-f", "{connection_file}"],
        "display_name": "Python 3 (dlcourse grading sandbox)",
        "language": "python",
        "metadata": {"debugger": False},
    }
    path = spec_dir / "kernel.json"
    text = json.dumps(spec, indent=1)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return folder


if __name__ == "__main__":
    main()
