"""Tests for mngs.db.placeholders: ``?``/``:name`` to psycopg's ``%s``/``%(name)s``."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mngs.db.placeholders import count_placeholders, to_pyformat

PG_DSN = "host=127.0.0.1 port=5432 dbname=test user=postgres"


# -- placeholders ------------------------------------------------------------------------------


def test_qmark_placeholders_become_percent_s():
    """Each ``?`` outside quotes becomes ``%s`` and the style is "qmark"."""
    assert to_pyformat("SELECT * FROM t WHERE a = ? AND b = ?") == (
        "SELECT * FROM t WHERE a = %s AND b = %s",
        "qmark",
    )


def test_named_placeholders_become_pyformat():
    """``:name`` becomes ``%(name)s`` (repeats included) and the style is "named"."""
    assert to_pyformat("SELECT :a, :b_2, :_c, :a") == (
        "SELECT %(a)s, %(b_2)s, %(_c)s, %(a)s",
        "named",
    )


def test_named_placeholder_ends_at_first_non_identifier_char():
    """A name stops at the first char outside [A-Za-z0-9_]."""
    assert to_pyformat("VALUES (:x,:y);") == ("VALUES (%(x)s,%(y)s);", "named")
    assert to_pyformat("WHERE a=:x-1") == ("WHERE a=%(x)s-1", "named")


def test_no_placeholders_returns_input_and_none():
    """A statement without placeholders comes back unchanged with style None."""
    assert to_pyformat("SELECT 1") == ("SELECT 1", None)
    assert to_pyformat("") == ("", None)


def test_double_colon_cast_is_not_a_placeholder():
    """``x::int`` and ``x::text[]`` are casts and stay as they are."""
    assert to_pyformat("SELECT x::int, y::text[] FROM t") == (
        "SELECT x::int, y::text[] FROM t",
        None,
    )


def test_placeholder_followed_by_cast():
    """``?::int`` and ``:n::int`` translate the placeholder and keep the cast."""
    assert to_pyformat("SELECT ?::int") == ("SELECT %s::int", "qmark")
    assert to_pyformat("SELECT :n::int") == ("SELECT %(n)s::int", "named")


def test_colon_after_colon_is_never_a_placeholder():
    """Any run of colons (``:::x``) is left alone, so no name follows a colon-colon."""
    assert to_pyformat("SELECT a:::x") == ("SELECT a:::x", None)


def test_colon_not_followed_by_a_name_is_left_alone():
    """``:`` before a digit, space, ``=`` or end of input is not a placeholder."""
    assert to_pyformat("SELECT a[1:2], a[:3], a[2:], f(p := 1), b : c:") == (
        "SELECT a[1:2], a[:3], a[2:], f(p := 1), b : c:",
        None,
    )


def test_double_question_mark_is_a_literal_question_mark():
    """``??``, ``??|`` and ``??&`` become PostgreSQL's JSONB ``?``, ``?|`` and ``?&``."""
    assert to_pyformat("SELECT j ?? 'a', j ??| array['a'], j ??& array['b'], ?") == (
        "SELECT j ? 'a', j ?| array['a'], j ?& array['b'], %s",
        "qmark",
    )


def test_double_question_mark_alone_is_not_a_placeholder():
    """A statement whose only ``?`` are doubled has style None."""
    assert to_pyformat("SELECT j ?? 'a'") == ("SELECT j ? 'a'", None)


def test_triple_question_mark_pairs_from_the_left():
    """``???`` is ``??`` (literal) followed by ``?`` (placeholder)."""
    assert to_pyformat("SELECT j ??? 'a'") == ("SELECT j ?%s 'a'", "qmark")


def test_mixing_styles_raises_value_error():
    """Positional and named placeholders in one statement raise ValueError saying so."""
    with pytest.raises(ValueError, match="mixes positional .* and named"):
        to_pyformat("SELECT ?, :a")
    with pytest.raises(ValueError, match="mixes"):
        count_placeholders(":a = ?")


def test_mixing_with_one_style_only_inside_quotes_is_fine():
    """A ``:name`` or ``?`` inside a string or comment does not count toward mixing."""
    assert to_pyformat("SELECT ?, ':a' -- :b\n") == ("SELECT %s, ':a' -- :b\n", "qmark")
    assert to_pyformat("SELECT :a, '?' /* ? */") == ("SELECT %(a)s, '?' /* ? */", "named")


# -- percent signs -----------------------------------------------------------------------------


def test_percent_is_doubled_outside_quotes():
    """A bare ``%`` (modulo) and an existing ``%%`` are both doubled."""
    assert to_pyformat("SELECT 7 % ?, 1 %% 2") == ("SELECT 7 %% %s, 1 %%%% 2", "qmark")


def test_percent_is_doubled_in_every_region():
    """``%`` is doubled inside strings, E-strings, identifiers, comments and dollar quotes."""
    sql = "SELECT '5%', E'6%', \"p%\", $$7%$$, $t$8%$t$ /* 9% /* 10% */ */ -- 11%\n, ?"
    assert to_pyformat(sql) == (
        "SELECT '5%%', E'6%%', \"p%%\", $$7%%$$, $t$8%%$t$ /* 9%% /* 10%% */ */ -- 11%%\n, %s",
        "qmark",
    )


def test_percent_s_typed_by_the_user_is_escaped():
    """A literal ``%s`` or ``%(x)s`` in the input is doubled, never taken as a placeholder."""
    assert to_pyformat("SELECT '%s', %(x)s") == ("SELECT '%%s', %%(x)s", None)


# -- single-quoted strings ---------------------------------------------------------------------


def test_single_quoted_string_is_untouched():
    """``?``, ``:name`` and ``??`` inside '...' are left alone."""
    assert to_pyformat("SELECT 'a ? :b ?? c::int' || ?") == (
        "SELECT 'a ? :b ?? c::int' || %s",
        "qmark",
    )


def test_doubled_quote_escape_stays_inside_string():
    """``''`` inside a string is an escaped quote, not the end of the string."""
    assert to_pyformat("SELECT 'it''s ?', ?") == ("SELECT 'it''s ?', %s", "qmark")
    assert to_pyformat("SELECT '''?''', :a") == ("SELECT '''?''', %(a)s", "named")


def test_adjacent_strings_are_each_untouched():
    """Two separate strings with a placeholder between them: only the placeholder changes."""
    assert to_pyformat("SELECT '?' || ? || ':x'") == ("SELECT '?' || %s || ':x'", "qmark")


def test_backslash_does_not_escape_in_a_standard_string():
    """In a standard string ``\\'`` ends the string (standard_conforming_strings)."""
    assert to_pyformat("SELECT 'a\\' || ?") == ("SELECT 'a\\' || %s", "qmark")


def test_prefixed_standard_strings_are_untouched():
    """``U&'...'``, ``B'...'`` and ``X'...'`` strings are ordinary quoted regions."""
    assert to_pyformat("SELECT U&'?', B'101', X'1F', N'?:a', ?") == (
        "SELECT U&'?', B'101', X'1F', N'?:a', %s",
        "qmark",
    )


# -- E-strings ---------------------------------------------------------------------------------


def test_e_string_backslash_escapes_a_quote():
    """In ``E'...'`` a backslash-quote does not end the string."""
    assert to_pyformat("SELECT E'it\\'s ? :x', ?") == ("SELECT E'it\\'s ? :x', %s", "qmark")


def test_lowercase_e_string():
    """``e'...'`` is an E-string too."""
    assert to_pyformat("SELECT e'\\' ?', ?") == ("SELECT e'\\' ?', %s", "qmark")


def test_e_string_escaped_backslash_before_closing_quote():
    """``E'\\\\'`` is one backslash; the next quote closes the string."""
    assert to_pyformat("SELECT E'\\\\' || ?") == ("SELECT E'\\\\' || %s", "qmark")


def test_e_string_doubled_quote_escape():
    """``''`` also escapes a quote inside an E-string."""
    assert to_pyformat("SELECT E'a''?', ?") == ("SELECT E'a''?', %s", "qmark")


def test_e_at_end_of_identifier_does_not_start_an_e_string():
    """``typE'...'`` is an identifier then a standard string, where backslash is plain."""
    assert to_pyformat("SELECT typE'a\\' || ?") == ("SELECT typE'a\\' || %s", "qmark")


# -- double-quoted identifiers -----------------------------------------------------------------


def test_double_quoted_identifier_is_untouched():
    """``?``, ``:name`` and ``""`` escapes inside "..." are left alone."""
    assert to_pyformat('SELECT "a?"":b" FROM "t::x" WHERE c = :c') == (
        'SELECT "a?"":b" FROM "t::x" WHERE c = %(c)s',
        "named",
    )


# -- comments ----------------------------------------------------------------------------------


def test_line_comment_is_untouched_until_newline():
    """A ``-- ...`` comment hides placeholders up to the end of its line only."""
    assert to_pyformat("SELECT ? -- why? :x 'unclosed\n, ?") == (
        "SELECT %s -- why? :x 'unclosed\n, %s",
        "qmark",
    )


def test_line_comment_ends_at_carriage_return():
    """A ``-- ...`` comment also ends at ``\\r``."""
    assert to_pyformat("SELECT 1 -- ?\r, ?") == ("SELECT 1 -- ?\r, %s", "qmark")


def test_line_comment_at_end_of_input():
    """A trailing ``-- ...`` comment without a newline is fine."""
    assert to_pyformat("SELECT :a -- :b") == ("SELECT %(a)s -- :b", "named")


def test_single_dash_and_slash_are_plain_text():
    """``-`` and ``/`` alone are operators, not comment starts."""
    assert to_pyformat("SELECT 4 - ? / 2") == ("SELECT 4 - %s / 2", "qmark")


def test_block_comment_is_untouched():
    """A ``/* ... */`` comment hides placeholders and quotes."""
    assert to_pyformat("SELECT /* ? :x ' \" $$ */ ?") == (
        "SELECT /* ? :x ' \" $$ */ %s",
        "qmark",
    )


def test_block_comments_nest():
    """``/* a /* b */ c */`` is one comment, as in PostgreSQL."""
    assert to_pyformat("SELECT /* a /* ? */ :c */ ?") == ("SELECT /* a /* ? */ :c */ %s", "qmark")


def test_empty_and_starry_block_comments():
    """``/**/`` and ``/***/`` open and close; ``*/`` outside a comment is plain text."""
    assert to_pyformat("SELECT /**/ ? /***/ ? */ ?") == (
        "SELECT /**/ %s /***/ %s */ %s",
        "qmark",
    )


# -- dollar quotes -----------------------------------------------------------------------------


def test_dollar_quoted_body_is_untouched():
    """A ``$$...$$`` body keeps its ``?``, ``:name`` and quotes."""
    assert to_pyformat("SELECT $$ it's ? :x $$, ?") == ("SELECT $$ it's ? :x $$, %s", "qmark")


def test_tagged_dollar_quote_ends_only_at_same_tag():
    """``$fn$...$fn$`` ignores ``$$`` and other tags inside its body."""
    sql = "CREATE FUNCTION f() RETURNS int AS $fn$ SELECT $$?$$, $x$ :a $x$ $fn$ LANGUAGE sql; ?"
    assert to_pyformat(sql) == (sql[:-1] + "%s", "qmark")


def test_dollar_number_is_not_a_dollar_quote():
    """``$1`` is a PostgreSQL parameter reference, not the start of a dollar quote."""
    assert to_pyformat("SELECT $1, ?, $2") == ("SELECT $1, %s, $2", "qmark")


def test_dollar_inside_identifier_is_not_a_dollar_quote():
    """``a$b$`` is one identifier (PostgreSQL allows ``$`` after the first char)."""
    assert to_pyformat("SELECT a$b$ FROM t WHERE x = ?") == (
        "SELECT a$b$ FROM t WHERE x = %s",
        "qmark",
    )


def test_dollar_tag_with_underscore_and_digits():
    """A tag may hold underscores and digits after its first char."""
    assert to_pyformat("SELECT $_t1$ ? $_t1$, :a") == ("SELECT $_t1$ ? $_t1$, %(a)s", "named")


# -- unterminated regions ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT ?, 'abc ? :x 50%",
        "SELECT ?, 'it''s ?",
        "SELECT ?, E'abc\\' ? 50%",
        "SELECT ?, E'abc\\",
        'SELECT ?, "abc ? :x 50%',
        "SELECT ?, /* ? :x 50%",
        "SELECT ?, /* a /* b */ ? 50%",
        "SELECT ?, $$ ? :x 50%",
        "SELECT ?, $t$ ? $$ 50%",
    ],
)
def test_unterminated_region_runs_to_end(sql):
    """An unterminated quote or comment leaves the rest untranslated except ``%`` -> ``%%``."""
    _, rest = sql.split(", ", 1)
    assert to_pyformat(sql) == ("SELECT %s, " + rest.replace("%", "%%"), "qmark")


# -- API details -------------------------------------------------------------------------------


def test_non_str_raises_type_error():
    """Bytes (or anything not a str) raise TypeError."""
    with pytest.raises(TypeError, match="str"):
        to_pyformat(b"SELECT ?")  # type: ignore[arg-type]


def test_to_pyformat_is_cached():
    """Repeated calls with the same statement hit the lru_cache."""
    sql = "SELECT ? /* cache probe */"
    before = to_pyformat.cache_info().hits
    assert to_pyformat(sql) is to_pyformat(sql)
    assert to_pyformat.cache_info().hits > before
    assert to_pyformat.cache_info().maxsize == 2048


def test_count_placeholders():
    """count_placeholders gives the number of ``?`` and the distinct ``:name`` names."""
    assert count_placeholders("SELECT ?, ?, '?', ??") == (2, frozenset())
    assert count_placeholders("SELECT :a, :b, :a, ':c'") == (0, frozenset({"a", "b"}))
    assert count_placeholders("SELECT 1") == (0, frozenset())


def test_long_statement_is_linear():
    """A large multi-row statement translates quickly and correctly."""
    sql = "INSERT INTO t VALUES " + ", ".join(["(?, 'a%b', ?::int)"] * 20000)
    out, style = to_pyformat(sql)
    assert style == "qmark"
    assert out.count("%s") == 40000
    assert out.count("'a%%b'") == 20000


# -- properties --------------------------------------------------------------------------------

_PLAIN = st.text(alphabet=st.characters(exclude_characters="?:%'\"$-/Ee"))


@given(_PLAIN)
def test_plain_text_is_returned_unchanged(sql):
    """Text without any special character comes back unchanged with style None."""
    assert to_pyformat(sql) == (sql, None)


@given(st.text())
def test_single_quoted_literal_is_preserved(s):
    """Any text inside '...' (quotes doubled) survives intact except ``%`` -> ``%%``."""
    body = s.replace("'", "''")
    sql = f"SELECT '{body}', ?"
    assert to_pyformat(sql) == (f"SELECT '{body.replace('%', '%%')}', %s", "qmark")


@given(st.text())
def test_translation_never_crashes(sql):
    """Arbitrary input either translates or raises the mixed-styles ValueError."""
    try:
        out, style = to_pyformat(sql)
    except ValueError as exc:
        assert "mixes" in str(exc)
    else:
        assert style in ("qmark", "named", None)
        assert out.count("%") >= 2 * sql.count("%")


# -- against a real PostgreSQL server ----------------------------------------------------------


@pytest.fixture(scope="module")
def pg():
    """An autocommit psycopg connection to the test server, or skip (fail under MNGS_REQUIRE_PG)."""
    psycopg = pytest.importorskip("psycopg")
    try:
        conn = psycopg.connect(PG_DSN, autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        if os.environ.get("MNGS_REQUIRE_PG") == "1":
            pytest.fail(f"PostgreSQL required (MNGS_REQUIRE_PG=1) but unreachable: {exc}")
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    yield conn
    conn.close()


def _run(conn, sql, params=()):
    """Translate ``sql`` and return the first row psycopg fetches for it."""
    translated, _ = to_pyformat(sql)
    return conn.execute(translated, params).fetchone()


def test_pg_qmark_percent_and_jsonb_operator(pg):
    """PostgreSQL runs ``?``, a literal ``%`` and the ``??`` JSONB operator as intended."""
    row = _run(pg, "SELECT ?::int + 1, '50%', '{\"a\":1}'::jsonb ?? 'a'", [41])
    assert row == (42, "50%", True)


def test_pg_jsonb_any_and_all_operators(pg):
    """``??|`` and ``??&`` reach PostgreSQL as ``?|`` and ``?&``."""
    row = _run(pg, "SELECT '{\"a\":1}'::jsonb ??| '{a,b}', '{\"a\":1}'::jsonb ??& '{a,b}', ?", [1])
    assert row == (True, False, 1)


def test_pg_named_placeholders(pg):
    """``:name`` placeholders bind from a dict, including before a cast and after a slice."""
    row = _run(pg, "SELECT :x::int * 2, (ARRAY[1,2,3])[2:3], :x::text || :y", {"x": 21, "y": "!"})
    assert row == (42, [2, 3], "21!")


def test_pg_dollar_quoted_body_untouched(pg):
    """A dollar-quoted body keeps its ``?``, ``:name`` and ``%`` verbatim."""
    row = _run(pg, "SELECT $$a ? :b 50% 'q'$$, $t$?$$$t$, ?::int", [7])
    assert row == ("a ? :b 50% 'q'", "?$$", 7)


def test_pg_comments_untouched(pg):
    """Placeholders inside line and nested block comments are ignored."""
    row = _run(pg, "SELECT /* :skip /* ? */ 50% */ :x::int -- :y ? %\n", {"x": 3})
    assert row == (3,)


def test_pg_e_string_and_identifier(pg):
    """E-strings with ``\\'`` and quoted identifiers with ``?``/``%`` survive translation."""
    translated, style = to_pyformat("SELECT E'it\\'s ? :x %' AS \"what?%\", ?::int AS n")
    assert style == "qmark"
    cur = pg.execute(translated, [5])
    assert cur.fetchone() == ("it's ? :x %", 5)
    assert [c.name for c in cur.description] == ["what?%", "n"]


def test_pg_statement_without_placeholders_needs_empty_params(pg):
    """With no placeholders, the doubled ``%`` is undone when executed with ``()`` params."""
    assert _run(pg, "SELECT '100%', 7 % 4", ()) == ("100%", 3)


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00")))
def test_pg_single_quoted_literal_round_trips(pg, s):
    """Any text in a single-quoted literal comes back from PostgreSQL exactly."""
    body = s.replace("'", "''")
    assert _run(pg, f"SELECT '{body}', ?::int", [1]) == (s, 1)
