"""Tests for mngs.gen.gen_timestamp: format, current time, ordering and file-name safety."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from mngs.gen import TIMESTAMP_FORMAT, gen_timestamp

PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}")


def test_format_is_year_to_second_with_hyphens() -> None:
    """The timestamp looks like 2025-05-30-14-03-22 and parses back with TIMESTAMP_FORMAT."""
    stamp = gen_timestamp()
    assert isinstance(stamp, str)
    assert PATTERN.fullmatch(stamp), stamp
    assert datetime.strptime(stamp, TIMESTAMP_FORMAT).strftime(TIMESTAMP_FORMAT) == stamp


def test_is_the_current_local_time() -> None:
    """The timestamp is the local wall-clock time of the call, truncated to the second."""
    before = datetime.now().replace(microsecond=0)
    stamp = gen_timestamp()
    after = datetime.now()
    assert before <= datetime.strptime(stamp, TIMESTAMP_FORMAT) <= after


def test_successive_calls_sort_in_order() -> None:
    """A later call never sorts before an earlier one."""
    stamps = [gen_timestamp() for _ in range(50)]
    assert stamps == sorted(stamps)
    assert stamps[0] <= stamps[-1]


def test_text_order_matches_time_order() -> None:
    """Zero padding makes string order equal chronological order across field boundaries."""
    moments = [
        datetime(2025, 1, 9, 9, 9, 9),
        datetime(2025, 10, 1, 0, 0, 0),
        datetime(2025, 2, 28, 23, 59, 59),
        datetime(2024, 12, 31, 23, 59, 59),
        datetime(2025, 2, 28, 9, 0, 10),
        datetime(2025, 2, 28, 10, 0, 9),
    ]
    as_text = [m.strftime(TIMESTAMP_FORMAT) for m in moments]
    assert sorted(as_text) == [m.strftime(TIMESTAMP_FORMAT) for m in sorted(moments)]


def test_is_safe_as_a_file_name(tmp_path: Path) -> None:
    """Only digits and hyphens appear, and the string works as a file name."""
    stamp = gen_timestamp()
    assert set(stamp) <= set("0123456789-")
    path = tmp_path / f"backup_{stamp}.sql"
    path.write_text("ok")
    assert path.read_text() == "ok"
    assert [p.name for p in tmp_path.iterdir()] == [f"backup_{stamp}.sql"]


def test_importing_mngs_gen_does_not_import_the_database_layer() -> None:
    """`import mngs.gen` stays light: it neither imports mngs.db nor a database driver."""
    code = (
        "import sys, mngs, mngs.gen; "
        "heavy = {'mngs.db', 'psycopg', 'sqlite3', 'pandas', 'numpy'} & set(sys.modules); "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
