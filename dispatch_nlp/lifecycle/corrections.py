"""Operators' corrections (改派, 退单): recorded durably, read back as training labels.

A ``Correction`` says, for one order, what the dispatch decision was (with its model and catalog
versions) and what it should have been (category, unit, district, street, appeal type), who said so,
why and when. Stores:

    store = open_store("corrections.db")                 # SQLite file, WAL mode (the default)
    store = open_store("postgresql+psycopg://u@h/db")    # any SQLAlchemy URL (multi-instance)
    stored = store.add(correction)                        # committed (fsynced) before it returns
    latest = store.latest_by_order()                      # {order_id: Correction}, the latest wins

``add`` is idempotent on ``correction_id``: a client that retries after a lost reply does not record
the same correction twice. Order text, title and reason are masked before they are stored, the
operator is stored as a salted pseudonym, the decision is reduced to its versions and outcome, and
an order id that holds a phone or ID number is refused: the store never holds personal data the
masker knows, and the model only ever reads masked text anyway. A write that finds the database
locked past the busy timeout raises ``StoreBusy`` (nothing stored; retry).

The record and its validation live in ``correction_model``, the stores in ``correction_store``, the
table import/export in ``correction_tables``; this module is their public face.
"""

from dispatch_nlp.lifecycle.correction_model import CORRECTED_FIELDS, KINDS, Correction, CorrectionLimits, utc_now
from dispatch_nlp.lifecycle.correction_store import CorrectionStore, SQLAlchemyStore, SQLiteStore, StoreBusy, open_store
from dispatch_nlp.lifecycle.correction_tables import (
    export_training_table,
    label_in_catalog,
    read_corrections_table,
)

__all__ = ["Correction", "CorrectionLimits", "StoreBusy", "CorrectionStore", "SQLiteStore", "SQLAlchemyStore", "open_store", "KINDS",
           "CORRECTED_FIELDS", "read_corrections_table", "export_training_table", "label_in_catalog", "utc_now"]
