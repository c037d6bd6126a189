"""Any identifier or string value quoted by the helpers reads back unchanged in DuckDB."""

from __future__ import annotations

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit.sql.quoting import identifier, literal, relation

# Quotes, backslashes, whitespace, unicode (no surrogates, no NUL: DuckDB's strings cannot hold NUL).
TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from(["'", '"', "\\", "`", " ", "\t", "\n", ";", "-", "*", "/", "$", "é", "名", "🦆"]),
        st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    ),
    max_size=20,
)


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    yield connection
    connection.close()


@settings(max_examples=150, deadline=None)
@given(value=TEXT)
def test_a_literal_selects_its_value(con: duckdb.DuckDBPyConnection, value: str) -> None:
    assert con.execute(f"SELECT {literal(value)}").fetchall() == [(value,)]


@settings(max_examples=100, deadline=None)
@given(name=TEXT.filter(lambda text: text.strip() != ""))
def test_a_quoted_identifier_names_its_column_and_table(con: duckdb.DuckDBPyConnection, name: str) -> None:
    con.execute(f"CREATE OR REPLACE TABLE {relation('main', name)} AS SELECT 1 AS {identifier(name)}")
    try:
        found = con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' AND table_name = ?", [name]
        ).fetchall()
        assert found == [(name,)]
        assert con.execute(f"SELECT {identifier(name)} FROM {relation('main', name)}").fetchall() == [(1,)]
        assert [column[0] for column in con.execute(f"SELECT * FROM {identifier(name)}").description] == [name]
    finally:
        con.execute(f"DROP TABLE {relation('main', name)}")
