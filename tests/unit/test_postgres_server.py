"""The throwaway PostgreSQL server of the distributed-study tests (:mod:`tests.postgres_server`, fixture
``postgres_url``), checked against the real server: concurrent connections, 127.0.0.1 only, SQLAlchemy,
and that leaving :func:`~tests.postgres_server.postgres_server` stops the server and deletes its cluster."""

from __future__ import annotations

import socket
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.postgres_server import postgres_server

LISTEN = "0A"  # TCP state LISTEN in /proc/net/tcp
TIMEOUT = "20s"  # of lock waits and statements


def libpq_url(url: str) -> str:
    """The SQLAlchemy URL ``postgresql+psycopg://...`` as psycopg / libpq take it (``postgresql://...``)."""
    assert url.startswith("postgresql+psycopg://"), url
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def connect(url: str, **kwargs: Any) -> Any:
    """A psycopg connection to the database of the SQLAlchemy ``url``; a lock wait or statement longer
    than :data:`TIMEOUT` fails instead of hanging the test."""
    import psycopg

    return psycopg.connect(libpq_url(url), connect_timeout=10,
                           options=f"-c lock_timeout={TIMEOUT} -c statement_timeout={TIMEOUT}", **kwargs)


def port_of(url: str) -> int:
    port = urlsplit(url).port
    assert port is not None, url
    return port


def listening_addresses(port: int) -> set[str]:
    """The local addresses of the sockets listening on TCP ``port`` (from ``/proc/net/tcp`` and ``tcp6``)."""
    found = set()
    for table, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            address, port_hex = fields[1].split(":")
            if fields[3] == LISTEN and int(port_hex, 16) == port:
                # each 32-bit word of the address is in host (little-endian) byte order
                raw = b"".join(bytes.fromhex(address[i:i + 8])[::-1] for i in range(0, len(address), 8))
                found.add(socket.inet_ntop(family, raw))
    return found


def test_url_names_the_ternlut_database_on_loopback(postgres_url):
    parts = urlsplit(postgres_url)
    assert (parts.scheme, parts.username, parts.hostname, parts.path) == (
        "postgresql+psycopg", "ternlut", "127.0.0.1", "/ternlut")
    assert 1024 <= port_of(postgres_url) < 65536


def test_two_concurrent_connections_share_committed_rows_only(postgres_url):
    select = "SELECT id, writer FROM trials_ab ORDER BY id"
    with connect(postgres_url) as a, connect(postgres_url) as b:
        try:
            a.execute("CREATE TABLE trials_ab (id integer PRIMARY KEY, writer text NOT NULL)")
            a.commit()
            a.execute("INSERT INTO trials_ab VALUES (1, 'a')")
            assert b.execute(select).fetchall() == []  # a has not committed yet
            b.commit()
            a.commit()
            b.execute("INSERT INTO trials_ab VALUES (2, 'b')")
            b.commit()
            assert a.execute(select).fetchall() == [(1, "a"), (2, "b")]
            assert b.execute(select).fetchall() == [(1, "a"), (2, "b")]
        finally:
            for conn in (a, b):  # an open transaction of either would block the DROP
                conn.rollback()
            a.execute("DROP TABLE IF EXISTS trials_ab")
            a.commit()


def test_concurrent_writers_in_threads(postgres_url):
    writers, rows_each = ("w0", "w1"), 200
    with connect(postgres_url, autocommit=True) as admin:
        admin.execute("CREATE TABLE trials_threads (id serial PRIMARY KEY, writer text NOT NULL, n integer)")
        try:
            barrier = threading.Barrier(len(writers))
            errors: list[BaseException] = []

            def write(writer: str) -> None:
                try:
                    with connect(postgres_url) as conn:
                        barrier.wait(timeout=10)
                        for n in range(rows_each):
                            conn.execute("INSERT INTO trials_threads (writer, n) VALUES (%s, %s)",
                                         (writer, n))
                            if n % 20 == 19:
                                conn.commit()
                except BaseException as exc:  # re-raised in the main thread
                    errors.append(exc)

            threads = [threading.Thread(target=write, args=(w,)) for w in writers]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=60)
            assert not errors, errors
            counts = admin.execute("SELECT writer, count(*), count(DISTINCT n) FROM trials_threads "
                                   "GROUP BY writer ORDER BY writer").fetchall()
            assert counts == [(w, rows_each, rows_each) for w in writers]
        finally:
            admin.execute("DROP TABLE trials_threads")


def test_server_listens_on_127_0_0_1_only(postgres_url):
    port = port_of(postgres_url)
    with connect(postgres_url) as conn:
        assert conn.execute("SHOW listen_addresses").fetchone() == ("127.0.0.1",)
        assert conn.execute("SELECT host(inet_server_addr()), inet_server_port()").fetchone() == (
            "127.0.0.1", port)
    if Path("/proc/net/tcp").exists():
        assert listening_addresses(port) == {"127.0.0.1"}
    # another loopback address (Linux routes all of 127/8 to lo) reaches no listener
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.2", port), timeout=2).close()


def test_sqlalchemy_engine_connects(postgres_url):
    import sqlalchemy as sa

    engine = sa.create_engine(postgres_url)
    try:
        with engine.connect() as conn:
            row = conn.execute(sa.text("SELECT current_database(), current_user, 40 + 2")).one()
        assert tuple(row) == ("ternlut", "ternlut", 42)
    finally:
        engine.dispose()


def test_leaving_the_context_stops_the_server_and_deletes_the_cluster(postgres_url, tmp_path):
    # postgres_url: a second server beside the session's one, and skips / fails the test like it does
    with postgres_server(tmp_path) as url:
        assert url != postgres_url
        with connect(url) as conn:
            data_dir = Path(conn.execute("SHOW data_directory").fetchone()[0])
        assert (data_dir / "postmaster.pid").is_file()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port_of(url)), timeout=2).close()
    assert not data_dir.parent.exists()
    assert list(tmp_path.iterdir()) == []
