"""All-or-nothing writes: one SQLite transaction around a whole import.

sqlite-utils' table helpers commit on their own (``with conn:``), which would leave half an
import behind on a bad line, so importers write with plain SQL inside this block instead.
Blocks nest: an inner block (one file) joins the outer one (the whole command), so a bad
line in the last file still rolls back the first.

The outer block starts with :func:`kit.db.begin_write`, so a second process importing into the
same workspace waits with a message naming the first (instead of SQLite's silent ten seconds
and a ``database is locked`` traceback), and a read-only workspace is refused before reading.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import sqlite_utils

from ..db import begin_write, end_write

_DEPTH = "_taalkit_transaction_depth"


@contextlib.contextmanager
def transaction(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """``BEGIN IMMEDIATE`` … ``COMMIT``; any exception rolls everything back and re-raises."""
    depth = getattr(db, _DEPTH, 0)
    if depth:
        setattr(db, _DEPTH, depth + 1)
        try:
            yield db
        finally:
            setattr(db, _DEPTH, depth)
        return
    conn = db.conn
    if conn.in_transaction:  # an implicit transaction someone left open: keep their work
        conn.commit()
    begin_write(db)
    setattr(db, _DEPTH, 1)
    try:
        yield db
    except BaseException:
        conn.rollback()
        raise
    else:
        conn.commit()
    finally:
        setattr(db, _DEPTH, 0)
        end_write(db)
