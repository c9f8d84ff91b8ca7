"""A throwaway PostgreSQL server on 127.0.0.1 for the tests of distributed (PostgreSQL-backed) studies.

:func:`postgres_server` creates a fresh cluster with ``initdb``, starts it on a free TCP port of 127.0.0.1
only (no durability: ``fsync``, ``synchronous_commit`` and ``full_page_writes`` are off), creates the
database ``ternlut`` of the superuser ``ternlut`` (trust authentication) and yields its SQLAlchemy URL; on
exit it stops the server and deletes the cluster. PostgreSQL refuses to run as root, so as root the server
runs as the ``postgres`` system user (which Debian's ``postgresql`` package creates).
:func:`postgres_available` says whether all this can work on this machine.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
DB_USER = "ternlut"
DB_NAME = "ternlut"
SERVER_USER = "postgres"  # the system user that runs the server when this process is root
DEBIAN_BIN_DIRS = "/usr/lib/postgresql/*/bin"  # Debian's server binaries are not on PATH
BINARIES = ("initdb", "pg_ctl", "postgres")
START_TIMEOUT_S = 60
START_ATTEMPTS = 3  # another process may take the free port between choosing it and binding it
LOG_TAIL_LINES = 12
MAX_SOCKET_PATH = 107  # sun_path of a unix socket, less its terminating NUL

SETTINGS = {  # appended to postgresql.conf; the port is given on pg_ctl's command line
    "listen_addresses": "'127.0.0.1'",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "100",
}


@dataclass(frozen=True)
class PgBinaries:
    """Paths of the PostgreSQL server programs."""

    initdb: Path
    pg_ctl: Path
    postgres: Path


def find_binaries() -> PgBinaries | None:
    """Find ``initdb``, ``pg_ctl`` and ``postgres``.

    Returns
    -------
    PgBinaries or None
        The programs on PATH if all three are there, else those of the newest
        ``/usr/lib/postgresql/VERSION/bin`` that has all three; None if neither has them.
    """
    on_path = [shutil.which(name) for name in BINARIES]
    if all(on_path):
        return PgBinaries(*(Path(p) for p in on_path))
    for bin_dir in sorted(Path("/").glob(DEBIAN_BIN_DIRS.lstrip("/")), key=_version_key, reverse=True):
        paths = [bin_dir / name for name in BINARIES]
        if all(p.is_file() and os.access(p, os.X_OK) for p in paths):
            return PgBinaries(*paths)
    return None


def _version_key(bin_dir: Path) -> tuple[int, ...]:
    """``(15,)`` for ``/usr/lib/postgresql/15/bin``; ``(-1,)`` for a directory not named by a version."""
    try:
        return tuple(int(part) for part in bin_dir.parent.name.split("."))
    except ValueError:
        return (-1,)


def postgres_available() -> str | None:
    """Say why :func:`postgres_server` cannot work here.

    Returns
    -------
    str or None
        None if the server binaries and psycopg are installed (and, as root, the ``postgres``
        user and ``runuser`` or ``setpriv`` exist); else the reason, in one line.
    """
    if find_binaries() is None:
        return (f"PostgreSQL server binaries ({', '.join(BINARIES)}) are neither on PATH nor in "
                f"{DEBIAN_BIN_DIRS} (Debian: apt-get install postgresql)")
    try:
        import psycopg  # noqa: F401
    except ImportError as exc:
        return f"the Python package psycopg is not usable ({exc})"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SERVER_USER)
        except KeyError:
            return f"running as root and there is no {SERVER_USER!r} system user to run PostgreSQL as"
        if not (shutil.which("runuser") or shutil.which("setpriv")):
            return "running as root and neither runuser nor setpriv is installed to drop to a plain user"
    return None


@contextmanager
def postgres_server(base_dir: Path) -> Iterator[str]:
    """Run a fresh PostgreSQL server on 127.0.0.1 for the duration of the ``with`` block.

    Parameters
    ----------
    base_dir : Path
        Where the cluster (data directory, unix socket directory, server log) is created. As root,
        when the ``postgres`` user cannot enter ``base_dir`` (pytest's temporary directories are
        private to their owner) or its unix socket path would be too long, the cluster goes into a
        private directory of the system's temporary directory instead.

    Yields
    ------
    str
        ``postgresql+psycopg://ternlut@127.0.0.1:PORT/ternlut``, the SQLAlchemy URL of the database
        ``ternlut``; the user ``ternlut`` is a superuser and needs no password.

    Raises
    ------
    RuntimeError
        If PostgreSQL is not available, or ``initdb`` or the server start fails (the message ends with
        the last lines of their output or of the server log).
    """
    reason = postgres_available()
    if reason is not None:
        raise RuntimeError(reason)
    bins = find_binaries()
    assert bins is not None
    server_dir = _make_server_dir(Path(base_dir))
    data_dir = server_dir / "data"
    try:
        _init_cluster(bins, data_dir, server_dir)
        port = _start(bins, data_dir, server_dir)
        try:
            _create_database(port)
            yield f"postgresql+psycopg://{DB_USER}@{HOST}:{port}/{DB_NAME}"
        finally:
            _stop(bins, data_dir, server_dir)
    finally:
        shutil.rmtree(server_dir, ignore_errors=True)


# --- directories and users ----------------------------------------------------------------------


def _as_root() -> bool:
    return os.geteuid() == 0


def _as_server_user(argv: Sequence[str | os.PathLike[str]]) -> list[str]:
    """``argv``, run as the ``postgres`` user when this process is root (initdb and postgres refuse root)."""
    cmd = [os.fspath(arg) for arg in argv]
    if not _as_root():
        return cmd
    if shutil.which("runuser"):
        return ["runuser", "-u", SERVER_USER, "--", *cmd]
    return ["setpriv", f"--reuid={SERVER_USER}", f"--regid={SERVER_USER}", "--init-groups", "--", *cmd]


def _run(argv: Sequence[str | os.PathLike[str]], cwd: Path,
         timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` as the server user in ``cwd`` (a directory that user can enter), capturing its output."""
    return subprocess.run(_as_server_user(argv), cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, check=False)


def _server_user_can_enter(directory: Path) -> bool:
    """Whether the server user can reach ``directory`` (every parent searchable)."""
    if not _as_root():
        return True
    probe = subprocess.run(_as_server_user(["test", "-d", directory, "-a", "-x", directory]),
                           capture_output=True, check=False)
    return probe.returncode == 0


def _socket_path_fits(parent: Path) -> bool:
    """Whether ``PARENT/ternlut-pg-XXXXXXXX/sock/.s.PGSQL.NNNNN`` fits into a unix socket address."""
    below = "/ternlut-pg-XXXXXXXX/sock/.s.PGSQL.65535"
    return len(os.fsencode(parent.resolve())) + len(below) <= MAX_SOCKET_PATH


def _make_server_dir(base_dir: Path) -> Path:
    """A new private directory for the cluster, owned by the server user, with ``sock/`` inside."""
    base_dir.mkdir(parents=True, exist_ok=True)
    candidates = [base_dir, Path(tempfile.gettempdir()), Path("/tmp")]
    usable = (c for c in candidates if c.is_dir() and _socket_path_fits(c) and _server_user_can_enter(c))
    parent = next(usable, None)
    if parent is None:
        raise RuntimeError(f"no directory for the PostgreSQL cluster: the {SERVER_USER!r} user cannot enter "
                           f"any of {', '.join(map(str, candidates))} (or the socket path would be too long)")
    server_dir = Path(tempfile.mkdtemp(prefix="ternlut-pg-", dir=parent))  # mode 0o700
    (server_dir / "sock").mkdir(mode=0o700)
    if _as_root():
        user = pwd.getpwnam(SERVER_USER)
        for path in (server_dir, server_dir / "sock"):
            os.chown(path, user.pw_uid, user.pw_gid)
    return server_dir


# --- the server ---------------------------------------------------------------------------------


def _tail(text: str, lines: int = LOG_TAIL_LINES) -> str:
    """The last ``lines`` non-empty lines of ``text``, joined by `` | `` into one line."""
    kept = [line.strip() for line in text.splitlines() if line.strip()][-lines:]
    return " | ".join(kept) if kept else "(no output)"


def _init_cluster(bins: PgBinaries, data_dir: Path, cwd: Path) -> None:
    """``initdb`` a cluster of superuser ``ternlut`` (trust) and append :data:`SETTINGS` to its config."""
    proc = _run([bins.initdb, "-D", data_dir, "-U", DB_USER, "-A", "trust", "-E", "UTF8", "--locale=C",
                 "--no-sync"], cwd)
    if proc.returncode != 0:
        raise RuntimeError(f"initdb failed (exit code {proc.returncode}): {_tail(proc.stdout + proc.stderr)}")
    socket_dir = (cwd / "sock").as_posix().replace("'", "''")
    settings = {**SETTINGS, "unix_socket_directories": f"'{socket_dir}'"}
    with open(data_dir / "postgresql.conf", "a", encoding="utf-8") as conf:
        conf.write("\n# throwaway test server (tests/postgres_server.py)\n")
        conf.writelines(f"{name} = {value}\n" for name, value in settings.items())


def _free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _start(bins: PgBinaries, data_dir: Path, cwd: Path) -> int:
    """Start the server with ``pg_ctl -w start`` on a free port; return the port.

    A start that fails because the port was taken meanwhile is retried on another port; any other
    failure stops whatever was started and raises RuntimeError with the end of the server log.
    """
    log = cwd / "server.log"
    for attempt in range(1, START_ATTEMPTS + 1):
        port = _free_port()
        proc = _run([bins.pg_ctl, "-D", data_dir, "-l", log, "-w", "-t", str(START_TIMEOUT_S),
                     "-o", f"-p {port}", "start"], cwd, timeout=START_TIMEOUT_S + 30)
        if proc.returncode == 0:
            return port
        server_log = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
        _stop(bins, data_dir, cwd, check=False)
        if "could not bind" not in server_log or attempt == START_ATTEMPTS:
            raise RuntimeError(f"PostgreSQL did not start on {HOST}:{port} (pg_ctl exit code "
                               f"{proc.returncode}: {_tail(proc.stdout + proc.stderr, 2)}); "
                               f"server log: {_tail(server_log)}")
        log.unlink()
    raise AssertionError("unreachable")


def _create_database(port: int) -> None:
    """``CREATE DATABASE ternlut`` through the maintenance database ``postgres``."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(host=HOST, port=port, user=DB_USER, dbname="postgres", autocommit=True,
                         connect_timeout=10) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DB_NAME)))


def _stop(bins: PgBinaries, data_dir: Path, cwd: Path, check: bool = True) -> None:
    """Stop the server: ``pg_ctl -m immediate stop``, then ``-m fast`` if that did not work.

    Raises RuntimeError if it still runs afterwards and ``check`` is true.
    """
    errors = []
    for mode in ("immediate", "fast"):
        proc = _run([bins.pg_ctl, "-D", data_dir, "-m", mode, "-w", "-t", "30", "stop"], cwd, timeout=60)
        if proc.returncode == 0 or not (data_dir / "postmaster.pid").exists():
            return
        errors.append(f"-m {mode}: {_tail(proc.stdout + proc.stderr, 2)}")
    if check:
        raise RuntimeError(f"could not stop the PostgreSQL server of {data_dir}: {'; '.join(errors)}")
