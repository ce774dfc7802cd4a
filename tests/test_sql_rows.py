"""The splitter's row tracking: the census counts an INSERT's rows from its parentheses in one
scan, and must count exactly what removing strings and comments and counting would."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from actions.mysql.sql_census import _NOISE, Census, count_rows, dump_header
from actions.mysql.sql_split import Statement, split

# Values that put parentheses, quotes, escapes and comments where a row's own could be mistaken.
VALUES = st.sampled_from(
    [
        b"1",
        b"NULL",
        b"-2.5",
        b"'plain'",
        b"'a(b'",
        b"'c)d'",
        b"'e\\'(f'",
        b"'g\\\\'",
        b"'\\(('",
        b'"h(i"',
        b"'--(x'",
        b"'#('",
        b"'/*(*/'",
        b"CONCAT('(', ')')",
        b"(SELECT 1)",
        b"1 /* a ( comment */",
        b"2 -- (line\n",
        b"3 # (hash\n",
        b"/*!50000 4 */",
        b"'x;y'",
    ]
)
ROWS = st.lists(st.lists(VALUES, min_size=1, max_size=4), min_size=1, max_size=8)


def _insert(rows: list[list[bytes]], columns: bool) -> bytes:
    head = b"INSERT INTO `t(1` (`a`,`b(`) VALUES " if columns else b"INSERT INTO `t` VALUES\n"
    return head + b",".join(b"(" + b",".join(row) + b")" for row in rows) + b";\n"


@settings(max_examples=300, deadline=None)
@given(ROWS, st.booleans(), st.integers(1, 40))
def test_rows_counted_from_one_scan_equal_the_rows_counted_without_strings(rows, columns, size):
    dump = b"SELECT 1;\n" + _insert(rows, columns) + _insert(rows[::-1], not columns)
    chunks = [dump[i : i + size] for i in range(0, len(dump), size)]
    whole = [(s.number, s.line, s.text, s.quoted) for s in split([dump])]
    assert [(s.number, s.line, s.text, s.quoted) for s in split(chunks)] == whole
    census = Census()
    for stmt in split(chunks):
        census.see(stmt)
    slow = Census()
    for number, line, text, _ in whole:
        slow.see(Statement(number, line, text))  # quoted = -1: counted the old way
    assert census.tables == slow.tables
    nested = any(v in (b"CONCAT('(', ')')", b"(SELECT 1)", b"/*!50000 4 */") for row in rows for v in row)
    if not nested:
        assert census.tables == {"t": len(rows), "t(1": len(rows)}
        assert all(s.quoted >= 0 for s in split(chunks) if s.text.startswith(b"INSERT"))


def test_a_statement_with_nested_parentheses_is_left_to_the_plain_count():
    text = b"INSERT INTO t VALUES (1,'a('),(2, CONCAT('x', '(')),(3,')');"
    (stmt,) = split([text])
    assert stmt.quoted == -1
    census = Census()
    census.see(stmt)
    assert census.tables == {"t": 3} and not census.plain_values
    assert count_rows(_NOISE.sub(b"", text[len(b"INSERT INTO t VALUES") :])) == 3


def test_mariadb_dumps_sandbox_line_comes_before_its_header():
    sandbox = b"/*M!999999\\- enable the sandbox mode */ \n-- MariaDB dump 10.19  Distrib 10.11.19-MariaDB\n"
    assert dump_header(sandbox)
    assert dump_header(b"\xef\xbb\xbf-- MySQL dump 10.13")
    assert not dump_header(b"/*M!999999\\- enable the sandbox mode */ \nSELECT 1;\n")
    assert not dump_header(b"SELECT 1;\n-- MariaDB dump\n")
