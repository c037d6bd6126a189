"""sqlglot's warning for statements it keeps as a bare Command, silenced where the toolkit judges them itself."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def quiet_fallbacks() -> Iterator[None]:
    """Without sqlglot's "Falling back to parsing as a 'Command'" warning (EXPLAIN, SHOW t, BigQuery scripting):
    the caller says what the statement is."""
    logger = logging.getLogger("sqlglot")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)
