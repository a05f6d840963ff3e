"""All-or-nothing writes: one SQLite transaction around a whole import.

sqlite-utils' table helpers commit on their own (``with conn:``), which would leave half an
import behind on a bad line, so importers write with plain SQL inside this block instead.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import sqlite_utils


@contextlib.contextmanager
def transaction(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """``BEGIN IMMEDIATE`` … ``COMMIT``; any exception rolls everything back and re-raises."""
    conn = db.conn
    if conn.in_transaction:
        conn.commit()
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        conn.rollback()
        raise
    else:
        conn.commit()
