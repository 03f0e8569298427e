"""Tests for opening, closing and sharing handles: SQLite3, PostgreSQL, connect(url), threads."""

from __future__ import annotations

import threading
import time

import pytest

import mngs.db

SECRET = "s3cret-pw-7781"


def _conninfo(dsn: str) -> dict[str, str]:
    from psycopg.conninfo import conninfo_to_dict

    return {k: str(v) for k, v in conninfo_to_dict(dsn).items()}


def _current_database(db: mngs.db.Database) -> str:
    return db.execute("SELECT current_database() AS name")[0]["name"]


# -- SQLite ------------------------------------------------------------------------------------


def test_sqlite_file_is_created_and_reopened(tmp_path):
    """SQLite3(path) creates the file; a second handle on the same path sees the data."""
    path = tmp_path / "data.db"
    with mngs.db.SQLite3(path) as db:
        db.create_table("t", {"x": "INTEGER"})
        db.insert("t", {"x": 1})
        assert db.path == str(path)
    assert path.exists()
    with mngs.db.SQLite3(str(path)) as db:
        assert db.select("t") == [{"x": 1}]


def test_sqlite_memory_database(tmp_path):
    """":memory:" (also the default) is a private in-memory database; no file appears."""
    with mngs.db.SQLite3(":memory:") as db:
        db.create_table("t", {"x": "INTEGER"})
        db.insert("t", {"x": 5})
        assert db.count("t") == 1
    with mngs.db.SQLite3() as other:
        assert other.list_tables() == []
    assert not (tmp_path / ":memory:").exists()


def test_sqlite_timeout_bounds_the_wait_for_a_lock(tmp_path):
    """A writer blocked by another handle's transaction fails with OperationalError after ~timeout."""
    path = tmp_path / "locked.db"
    with mngs.db.SQLite3(path) as holder, mngs.db.SQLite3(path, timeout=0.2) as waiter:
        holder.create_table("t", {"x": "INTEGER"})
        with holder.transaction():
            holder.insert("t", {"x": 1})
            start = time.perf_counter()
            with pytest.raises(mngs.db.OperationalError, match="locked"):
                waiter.insert("t", {"x": 2})
            waited = time.perf_counter() - start
        assert 0.15 <= waited < 3
        assert waiter.insert("t", {"x": 3}) is not None  # usable once the lock is gone
        assert sorted(r["x"] for r in waiter.select("t")) == [1, 3]


# -- PostgreSQL --------------------------------------------------------------------------------


@pytest.mark.postgresql
def test_postgresql_keyword_parameters(pg_dsn):
    """PostgreSQL(dbname, user, password, host, port) connects with exactly those parameters."""
    info = _conninfo(pg_dsn)
    with mngs.db.PostgreSQL(
        dbname=info["dbname"],
        user=info["user"],
        password="ignored-by-trust-auth",
        host=info["host"],
        port=int(info["port"]),
    ) as db:
        assert _current_database(db) == info["dbname"]
        assert db.backend == "postgresql"


@pytest.mark.postgresql
def test_postgresql_dsn_url_form(pg_dsn):
    """dsn= accepts a postgresql:// URL."""
    info = _conninfo(pg_dsn)
    url = f"postgresql://{info['user']}@{info['host']}:{info['port']}/{info['dbname']}"
    with mngs.db.PostgreSQL(dsn=url) as db:
        assert _current_database(db) == info["dbname"]


@pytest.mark.postgresql
def test_postgresql_dsn_key_value_form(pg_dsn):
    """dsn= accepts a libpq key=value string; keyword arguments override it."""
    info = _conninfo(pg_dsn)
    dsn = f"host={info['host']} port={info['port']} dbname=no_such_db user={info['user']}"
    with mngs.db.PostgreSQL(dsn=dsn, dbname=info["dbname"]) as db:
        assert _current_database(db) == info["dbname"]


@pytest.mark.postgresql
def test_postgresql_pg_environment_variables_fill_the_gaps(pg_dsn, monkeypatch):
    """With no arguments, PGHOST/PGPORT/PGDATABASE/PGUSER supply the connection parameters."""
    info = _conninfo(pg_dsn)
    monkeypatch.setenv("PGHOST", info["host"])
    monkeypatch.setenv("PGPORT", info["port"])
    monkeypatch.setenv("PGDATABASE", info["dbname"])
    monkeypatch.setenv("PGUSER", info["user"])
    with mngs.db.PostgreSQL() as db:
        assert _current_database(db) == info["dbname"]
        assert db.execute("SELECT current_user AS u")[0]["u"] == info["user"]


@pytest.mark.postgresql
def test_postgresql_explicit_argument_beats_environment(pg_dsn, monkeypatch):
    """A given argument wins over its PG* variable; the other variables still apply."""
    info = _conninfo(pg_dsn)
    monkeypatch.setenv("PGHOST", info["host"])
    monkeypatch.setenv("PGPORT", info["port"])
    monkeypatch.setenv("PGUSER", info["user"])
    monkeypatch.setenv("PGDATABASE", "no_such_database_xyz")
    with mngs.db.PostgreSQL(dbname=info["dbname"]) as db:
        assert _current_database(db) == info["dbname"]


@pytest.mark.postgresql
def test_repr_never_contains_the_password(pg_dsn):
    """repr/str of a handle opened with a password (DSN or keyword) never show it."""
    with mngs.db.PostgreSQL(dsn=f"{pg_dsn} password={SECRET}") as db:
        assert SECRET not in repr(db) and SECRET not in str(db)
        assert _conninfo(pg_dsn)["dbname"] in repr(db)
    with mngs.db.PostgreSQL(dsn=pg_dsn, password=SECRET) as db:
        assert SECRET not in repr(db)
    assert SECRET not in repr(db)  # closed handles too


@pytest.mark.postgresql
@pytest.mark.parametrize("form", ["keywords", "url"])
def test_connection_failure_is_operational_error_without_password(form):
    """An unreachable server raises OperationalError; the password is not in the message."""
    with pytest.raises(mngs.db.OperationalError) as info:
        if form == "keywords":
            mngs.db.PostgreSQL(
                dbname="test", user="postgres", password=SECRET, host="127.0.0.1", port=1,
                connect_timeout=3,
            )
        else:
            mngs.db.connect(f"postgresql://postgres:{SECRET}@127.0.0.1:1/test?connect_timeout=3")
    assert SECRET not in str(info.value)
    assert SECRET not in repr(info.value)
    assert info.value.__cause__ is None  # nothing chained for a traceback to print
    assert info.value.driver_error is not None  # the driver's exception, for code that asks
    assert SECRET not in repr(vars(info.value.driver_error))


# -- connect(url) ------------------------------------------------------------------------------


def test_connect_sqlite_relative_url(tmp_path, monkeypatch):
    """connect("sqlite:///rel.db") opens rel.db relative to the working directory."""
    monkeypatch.chdir(tmp_path)
    with mngs.db.connect("sqlite:///rel.db") as db:
        assert isinstance(db, mngs.db.SQLite3)
        db.create_table("t", {"x": "INTEGER"})
    assert (tmp_path / "rel.db").exists()


def test_connect_sqlite_absolute_url(tmp_path):
    """connect("sqlite:////abs/path.db") opens the absolute path."""
    path = tmp_path / "abs.db"
    with mngs.db.connect(f"sqlite:///{path}") as db:
        db.create_table("t", {"x": "INTEGER"})
        assert db.path == str(path)
    assert path.exists()


@pytest.mark.parametrize("url", ["sqlite:///:memory:", "sqlite://"])
def test_connect_sqlite_memory_url(url):
    """connect("sqlite:///:memory:") and "sqlite://" open an in-memory database."""
    with mngs.db.connect(url) as db:
        assert db.path == ":memory:"
        assert db.execute("SELECT 1 AS one") == [{"one": 1}]


@pytest.mark.postgresql
def test_connect_postgresql_url(pg_dsn):
    """connect("postgresql://...") returns a PostgreSQL handle to that database."""
    info = _conninfo(pg_dsn)
    url = f"postgresql://{info['user']}@{info['host']}:{info['port']}/{info['dbname']}"
    with mngs.db.connect(url) as db:
        assert isinstance(db, mngs.db.PostgreSQL)
        assert _current_database(db) == info["dbname"]


def test_connect_unknown_scheme_is_argument_error():
    """An unsupported URL scheme raises ArgumentError naming it."""
    with pytest.raises(mngs.db.ArgumentError, match="mysql"):
        mngs.db.connect("mysql://localhost/db")


# -- closing -----------------------------------------------------------------------------------


def test_with_block_closes_the_handle(db):
    """`with handle as db:` returns the handle itself and closes it on exit."""
    with db as same:
        assert same is db
        assert not db.closed
    assert db.closed


def test_with_block_closes_on_error(db):
    """The handle is closed even when the with block raises; the error propagates."""
    with pytest.raises(KeyError):
        with db:
            raise KeyError("boom")
    assert db.closed


def test_close_twice_is_fine(db):
    """close() on an already closed handle does nothing."""
    db.close()
    db.close()
    assert db.closed
    assert "closed" in repr(db)


def test_close_rolls_back_an_open_transaction(db, make_db):
    """Closing inside begin_transaction() discards the uncommitted writes."""
    db.create_table("t", {"x": "INTEGER"})
    db.begin_transaction()
    db.insert("t", {"x": 1})
    db.close()
    assert make_db().count("t") == 0


@pytest.mark.parametrize(
    "call",
    [
        lambda db: db.select("t"),
        lambda db: db.insert("t", {"x": 1}),
        lambda db: db.insert_many("t", [{"x": 1}]),
        lambda db: db.update("t", {"x": 2}, where={"x": 1}),
        lambda db: db.delete("t", where={"x": 1}),
        lambda db: db.execute("SELECT 1"),
        lambda db: db.count("t"),
        lambda db: list(db.select_iter("t")),
        lambda db: db.begin_transaction(),
        lambda db: db.list_tables(),
        lambda db: db.create_table("u", {"y": "INTEGER"}),
    ],
    ids=["select", "insert", "insert_many", "update", "delete", "execute", "count", "select_iter",
         "begin_transaction", "list_tables", "create_table"],
)
def test_closed_handle_raises_closed_error(db, call):
    """Every operation on a closed handle raises ClosedError (an InterfaceError) naming the handle."""
    db.create_table("t", {"x": "INTEGER"})
    db.close()
    with pytest.raises(mngs.db.ClosedError) as info:
        call(db)
    assert isinstance(info.value, mngs.db.InterfaceError)
    assert "closed" in str(info.value)
    assert repr(db).split(" (closed)")[0] in str(info.value)


# -- threads -----------------------------------------------------------------------------------


def _run_threads(target, n: int = 4) -> None:
    errors: list[BaseException] = []

    def wrapped(i: int) -> None:
        try:
            target(i)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=wrapped, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert not any(t.is_alive() for t in threads)


def test_threads_share_one_handle_for_inserts(db):
    """4 threads x 200 insert() calls on one handle store exactly 800 rows with distinct ids."""
    db.create_table("t", {"id": "INTEGER PRIMARY KEY", "worker": "INTEGER", "n": "INTEGER"})
    ids: list[int] = []

    def work(i: int) -> None:
        for n in range(200):
            ids.append(db.insert("t", {"worker": i, "n": n}))

    _run_threads(work)
    assert db.count("t") == 800
    assert len(set(ids)) == 800
    for i in range(4):
        assert db.count("t", where={"worker": i}) == 200


def test_threads_share_one_handle_for_transactions(db, make_db):
    """4 threads x 50 transaction blocks of 4 inserts (every 5th rolled back) give exact counts."""
    db.create_table("t", {"worker": "INTEGER", "block": "INTEGER"})

    def work(i: int) -> None:
        for block in range(50):
            try:
                with db.transaction():
                    for _ in range(4):
                        db.insert("t", {"worker": i, "block": block})
                    if block % 5 == 0:
                        raise ValueError("roll this block back")
            except ValueError:
                pass

    _run_threads(work)
    assert make_db().count("t") == 4 * 40 * 4
    assert not db.in_transaction


def test_threads_insert_many_and_select_concurrently(db):
    """insert_many and select from several threads at once never see half a batch."""
    db.create_table("t", {"worker": "INTEGER", "n": "INTEGER"})
    seen: list[int] = []

    def work(i: int) -> None:
        for _ in range(20):
            if i % 2:
                db.insert_many("t", [{"worker": i, "n": n} for n in range(25)])
            else:
                seen.append(db.count("t"))

    _run_threads(work)
    assert db.count("t") == 2 * 20 * 25
    assert all(c % 25 == 0 for c in seen)


def test_other_thread_waits_for_a_transaction_instead_of_joining_it(db, make_db):
    """A write from thread B during thread A's transaction waits for it and survives A's rollback."""
    db.create_table("t", {"who": "TEXT"})
    started = threading.Event()
    finished: dict[str, float] = {}

    def a(_: int) -> None:
        try:
            with db.transaction():
                db.insert("t", {"who": "a"})
                started.set()
                time.sleep(0.3)
                finished["a"] = time.perf_counter()
                raise RuntimeError("roll back a")
        except RuntimeError:
            pass

    def b(_: int) -> None:
        assert started.wait(10)
        db.insert("t", {"who": "b"})
        finished["b"] = time.perf_counter()

    threads = [threading.Thread(target=a, args=(0,)), threading.Thread(target=b, args=(1,))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert finished["b"] > finished["a"]
    assert make_db().select("t") == [{"who": "b"}]
