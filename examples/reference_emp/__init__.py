"""A reference EMP: a small, correct OIOI EMP, with switchable defects.

It receives station-post, connector-post-status, session-post and rfid-verify (cpo/poi.rst,
cpo/cdr.rst, cpo/rfid_start.rst). With a partner configured it also sends, as an EMP does:
session-start, session-stop, rfid-post, reservation-start and reservation-stop, when a test
tells it to through ``POST /control`` (reference_emp/_control.py). Each defect in `DEFECTS` is
the correct implementation with one bug real partners make; a conformance suite must catch each.
Each behaviour in `BEHAVIOURS` is the mirror: something the spec allows that the defaults do
not do; a conformance suite must pass each.

>>> app = create_app(db_path=":memory:", api_keys=["a-key-of-at-least-16-chars"], defects=["forgets-stations"])
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import Flask

from examples._reference import (
    SENDER_BEHAVIOURS,
    SENDER_DEFECTS,
    TRANSPORT_BEHAVIOURS,
    TRANSPORT_DEFECTS,
    TRANSPORT_FAULTS,
    Database,
    check_api_keys,
    check_behaviours,
    check_defects,
    check_faults,
    make_app,
    make_outbox,
)
from examples.reference_emp._calls import HANDLERS, SCHEMA
from examples.reference_emp._control import ACTIONS
from oioi.errors import ConfigError

__all__ = [
    "BEHAVIOURS",
    "COMBINATIONS",
    "DEFAULT_PARTNER_IDENTIFIER",
    "DEFAULT_RFIDS",
    "DEFECTS",
    "EMP_DEFECTS",
    "FAULTS",
    "create_app",
]

TITLE = "reference EMP"
DEFAULT_PARTNER_IDENTIFIER = "reference-emp-partner-0001"  # how the partner knows us (partner-identifier)
RFID_STATES = ("active", "inactive")

# testaccount.rst, "UIDs to test RFID": 04523022AA4881 is active, 0477BD22AA4880 inactive,
# 0477BD22AA4AAA does not exist.
DEFAULT_RFIDS: dict[str, dict[str, str]] = {
    "04523022AA4881": {"state": "active", "evco-id": "DE*8PS*123456*7"},
    "0477BD22AA4880": {"state": "inactive"},
}

EMP_DEFECTS: dict[str, str] = {
    "status-for-any-connector": "Answers connector-post-status with 0 for connectors never posted.",
    "status-ignores-partner": "Accepts connector-post-status from any partner identifier for a known connector.",
    "forgets-stations": "Answers every connector-post-status with 181.",
    "refuses-cdr-update": "Answers a session-post whose session-id is already stored with 100.",
    "rfid-verify-denies-all": "Answers rfid-verify of every UID it knows with 192, the active ones too.",
    "rfid-verify-allows-inactive": "Answers rfid-verify of an inactive UID with 0 and an EVCO ID.",
    "rfid-verify-unknown-is-locked": "Answers rfid-verify of an unknown UID with 192.",
    "rfid-verify-unknown-succeeds": "Answers rfid-verify of an unknown UID with 0 and an EVCO ID.",
    # What it sends (POST /control, reference_emp/_control.py):
    "session-start-rfid-identifier": "start-session sends the EVCO ID with identifier-type 'rfid'.",
    "stop-without-session-id": "stop-session sends no session-id, though the session-start answer gave one.",
    "partial-whitelist": "push-rfids sends an empty list instead of every active UID.",
    "evco-id-without-check-digit": "start-session sends the EVCO ID without its check digit (DE*8PS*123456).",
    "stop-rfid-identifier": "stop-session sends the EVCO ID with identifier-type 'rfid'.",
    "ignores-stop-session": "stop-session answers that it is done but sends no session-stop.",
    "no-rfid-post": "push-rfids answers that it is done but sends no rfid-post.",
    "reserve-sends-nothing": "reserve answers that it is done but sends no reservation-start.",
    "cancel-with-rfid-type": "cancel-reservation sends the EVCO ID with identifier-type 'rfid'.",
}
DEFECTS: dict[str, str] = {**TRANSPORT_DEFECTS, **SENDER_DEFECTS, **EMP_DEFECTS}

# Several behaviours at once: an EMP as strict as the spec lets it be.
COMBINATIONS: dict[str, tuple[str, ...]] = {
    "strict-partner": ("strict-validation", "refusals-as-4xx", "extra-answer-fields"),
}
# What the spec allows an EMP beyond the defaults.
EMP_BEHAVIOURS: dict[str, str] = {
    "whitelist-per-brand": "Pushes its whitelist as one rfid-post per partner identifier: an empty one for a second "
    "brand, then every active UID under its own.",
}
BEHAVIOURS: dict[str, str] = {
    **TRANSPORT_BEHAVIOURS,
    **SENDER_BEHAVIOURS,
    **EMP_BEHAVIOURS,
    **{name: "All of: " + ", ".join(parts) + "." for name, parts in COMBINATIONS.items()},
}

# Load faults (examples/_reference/_faults.py): failures only the aggregate of a load run shows, ``--fault NAME``.
FAULTS: dict[str, str] = dict(TRANSPORT_FAULTS)


def create_app(
    *,
    db_path: str,
    api_keys: list[str],
    defects: Iterable[str] = (),
    rfids: dict[str, Any] | None = None,
    partner_url: str | None = None,
    partner_api_key: str | None = None,
    partner_identifier: str = DEFAULT_PARTNER_IDENTIFIER,
    behaviours: Iterable[str] = (),
    faults: Iterable[str] = (),
) -> Flask:
    """The reference EMP with ``defects`` and ``behaviours`` on, its state in SQLite at ``db_path`` (``:memory:`` too).

    ``rfids`` maps each UID it knows to ``{"state": "active"|"inactive", "evco-id": ...}``
    (default `DEFAULT_RFIDS`). It sends to the CPO at ``partner_url`` with ``partner_api_key``,
    naming itself ``partner_identifier``; without a partner it only receives. ``ValueError``
    (`ConfigError`) for an unknown defect, no API key, a malformed UID entry or half a partner.
    """
    chosen = check_defects(DEFECTS, defects, TITLE)
    behaving = check_behaviours(BEHAVIOURS, COMBINATIONS, behaviours, TITLE)
    failing = check_faults(FAULTS, faults, TITLE)
    check_api_keys(api_keys, TITLE)
    known = dict(DEFAULT_RFIDS if rfids is None else rfids)
    for uid, entry in known.items():
        _check_rfid(uid, entry)
    outbox = make_outbox(partner_url, partner_api_key, partner_identifier, chosen, TITLE, behaving)
    db = Database(db_path, SCHEMA)
    with db.transaction() as tx:  # the UIDs are configuration: the mapping given now replaces any before
        tx.execute("DELETE FROM rfids")
        tx.executemany(
            "INSERT INTO rfids (uid, state, evco_id) VALUES (?, ?, ?)",
            [(uid, entry["state"], entry.get("evco-id")) for uid, entry in known.items()],
        )
    return make_app(
        __name__,
        role="EMP",
        handlers=HANDLERS,
        defects=chosen,
        api_keys=api_keys,
        db=db,
        outbox=outbox,
        actions=ACTIONS,
        behaviours=behaving,
        faults=failing,
    )


def _check_rfid(uid: Any, entry: Any) -> None:
    """`ConfigError` unless ``entry`` is a UID's state, with an EVCO ID when active."""
    ok = isinstance(uid, str) and isinstance(entry, dict) and entry.get("state") in RFID_STATES
    if ok and (entry["state"] == "active" or "evco-id" in entry):
        ok = isinstance(entry.get("evco-id"), str) and bool(entry["evco-id"])
    if not ok:
        raise ConfigError(
            f"Received: rfids[{uid!r}] = {entry!r}\n"
            f"Expected: {{'state': one of {list(RFID_STATES)!r}, 'evco-id': '...'}} (an EVCO ID when active)."
        )
