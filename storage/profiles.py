"""The accessible profile, kept with the participant: when they switched it on (NULL:
off). A turn that switches it writes it in the same transaction as everything else
(storage/turns.py), and `load` reads it with the rest, so the next turn already speaks as
the person asked."""

from __future__ import annotations

DESCRIPTION = "the accessible profile, kept with the participant"
# `double precision` is REAL to SQLite: one script for both backends
SCHEMA = "ALTER TABLE participants ADD COLUMN accessible_at double precision;"
