"""CSV import keeps every value of files shaped like real ones: huge integers, leading zeros
and signs, COPY's end marker as data, NA spellings, headerless files, chosen types, BOMs."""

from __future__ import annotations

from pathlib import Path

import pytest

import mngs.db


def _write(tmp_path: Path, text: str, name: str = "in.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def _column_type(db, table: str, column: str) -> str:
    return next(c["type"] for c in db.get_columns(table) if c["name"] == column).upper()


def test_integers_beyond_64_bits_are_kept_exactly(db, tmp_path):
    """20-digit ICCIDs stay distinct and exact (NUMERIC on PostgreSQL, TEXT on SQLite)."""
    ids = ["89014103211118510720", "89014103211118510721", "9223372036854775808"]
    path = _write(tmp_path, "iccid\n" + "\n".join(ids) + "\n")
    assert db.import_from_csv("sims", path) == 3
    got = [r["iccid"] for r in db.select("sims")]
    assert [str(v) for v in got] == ids
    assert all(not isinstance(v, float) for v in got)
    assert _column_type(db, "sims", "iccid") in ("NUMERIC", "TEXT")


def test_leading_zeros_and_plus_signs_keep_the_column_text(db, tmp_path):
    """ZIP codes 02134 and dial codes +49 are text; plain numbers next to them stay numbers."""
    path = _write(tmp_path, "zip,dial,n,x\n02134,+49,7,0.5\n10001,+1,8,-0.25\n")
    assert db.import_from_csv("places", path) == 2
    assert db.select("places", order_by="n") == [
        {"zip": "02134", "dial": "+49", "n": 7, "x": 0.5},
        {"zip": "10001", "dial": "+1", "n": 8, "x": -0.25},
    ]


def test_copy_end_marker_is_data_on_both_backends(db, tmp_path):
    """A record that is exactly ``\\.`` is a value; the count equals the rows in the table."""
    path = _write(tmp_path, 'v\na\n\\.\nb\n"x\n\\.\ny"\nc\n')
    count = db.import_from_csv("marks", path)
    assert count == 5 == db.count("marks")
    assert [r["v"] for r in db.select("marks")] == ["a", "\\.", "b", "x\n\\.\ny", "c"]


def test_na_values_are_null(db, tmp_path):
    """``na_values=["NA"]`` (penguins' spelling) keeps numeric columns numeric."""
    path = _write(tmp_path, "species,bill,mass\nAdelie,39.1,3750\nAdelie,NA,NA\nGentoo,n/a,5000\n")
    assert db.import_from_csv("penguins", path, na_values=["NA", "n/a"]) == 3
    assert db.select("penguins", columns=["bill", "mass"]) == [
        {"bill": 39.1, "mass": 3750},
        {"bill": None, "mass": None},
        {"bill": None, "mass": 5000},
    ]
    assert "INT" in _column_type(db, "penguins", "mass")


def test_headerless_file_with_columns(db, tmp_path):
    """``header=False`` keeps the first record as data; ``columns`` names the columns; without
    them the existing table's columns are used; creating a table without them is an error."""
    path = _write(tmp_path, "1,alpha\n2,beta\n")
    assert db.import_from_csv("h", path, header=False, columns=["id", "name"]) == 2
    assert db.select("h", order_by="id") == [{"id": 1, "name": "alpha"}, {"id": 2, "name": "beta"}]
    assert db.import_from_csv("h", path, header=False) == 2
    assert db.count("h") == 4
    with pytest.raises(mngs.db.ArgumentError, match="columns"):
        db.import_from_csv("other", path, header=False)
    with pytest.raises(mngs.db.ArgumentError, match="header=False"):
        db.import_from_csv("h", path, columns=["id", "name"])


def test_types_override_inference(db, tmp_path):
    """``types={"code": "TEXT"}`` keeps 1 and 2 as text; the other columns are inferred."""
    path = _write(tmp_path, "code,n\n1,5\n2,6\n")
    db.import_from_csv("typed", path, types={"code": "TEXT"})
    assert db.select("typed", order_by="n") == [{"code": "1", "n": 5}, {"code": "2", "n": 6}]
    with pytest.raises(mngs.db.ArgumentError, match="nope"):
        db.import_from_csv("typed2", path, types={"nope": "TEXT"})
    assert not db.table_exists("typed2")


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig"])
def test_bom_is_skipped_with_and_without_a_header(db, tmp_path, encoding):
    """A byte-order mark never becomes part of the first name or value."""
    path = _write(tmp_path, "\ufeffname,n\nZoë,1\n", encoding="utf-8")
    assert db.import_from_csv("bom", path, encoding=encoding) == 1
    assert db.select("bom") == [{"name": "Zoë", "n": 1}]
    bare = _write(tmp_path, "\ufeffZoë,2\n", name="bare.csv")
    assert db.import_from_csv("bom", bare, header=False, encoding=encoding) == 1
    assert db.select("bom", where={"n": 2}) == [{"name": "Zoë", "n": 2}]


def test_exports_of_the_same_table_are_byte_identical_across_backends(db, make_db, tmp_path):
    """One table, one export per backend: the same bytes (numbers spelled the same way)."""
    rows = [
        {"id": 1, "x": 3.0, "n": 3, "big": 1e20, "t": "a,b"},
        {"id": 2, "x": 0.1, "n": -2, "big": -2.5e-7, "t": None},
    ]
    types = {"id": "INTEGER PRIMARY KEY", "x": "REAL", "n": "INTEGER", "big": "REAL", "t": "TEXT"}
    db.create_table("e", types)
    db.insert_many("e", rows)
    out = tmp_path / f"{db.backend}.csv"
    db.export_to_csv("e", out, order_by="id")
    other = mngs.db.SQLite3(tmp_path / "other.db")
    try:
        other.create_table("e", types)
        other.insert_many("e", rows)
        ref = tmp_path / "ref.csv"
        other.export_to_csv("e", ref, order_by="id")
    finally:
        other.close()
    assert out.read_bytes() == ref.read_bytes()
