"""A reference CPO: a small, correct OIOI CPO, with switchable defects.

It receives session-start, session-stop, rfid-post, reservation-start and reservation-stop
(cpo/remote_start.rst, cpo/reservation.rst, cpo/rfid_start.rst). With a partner configured it
also sends, as a CPO does: station-post, connector-post-status, rfid-verify and session-post,
when a test tells it what happened through ``POST /control`` (reference_cpo/_control.py) and
when a remote session starts or stops. Each defect in `DEFECTS` is the correct implementation
with one bug real partners make; a conformance suite must catch each. Each behaviour in
`BEHAVIOURS` is the mirror: something the spec allows that the defaults do not do; a
conformance suite must pass each.

>>> app = create_app(db_path=":memory:", api_keys=["a-key-of-at-least-16-chars"], defects=["double-start"])
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import Flask

from examples._reference import (
    CPO_FAULTS,
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
from examples.reference_cpo._calls import HANDLERS, SCHEMA
from examples.reference_cpo._control import ACTIONS
from oioi.errors import ConfigError

__all__ = [
    "BEHAVIOURS",
    "COMBINATIONS",
    "CPO_BEHAVIOURS",
    "CPO_DEFECTS",
    "DEFAULT_CONNECTORS",
    "DEFAULT_PARTNER_IDENTIFIER",
    "DEFECTS",
    "FAULTS",
    "create_app",
]

TITLE = "reference CPO"
DEFAULT_PARTNER_IDENTIFIER = "reference-cpo-partner-0001"  # how the partner knows us (partner-identifier)

# The EVSE IDs of this CPO's connectors, all reservable.
DEFAULT_CONNECTORS = ["DE*REF*E000001*1", "DE*REF*E000001*2", "DE*REF*E000002*1", "DE*REF*E000002*2"]

CPO_DEFECTS: dict[str, str] = {
    "start-unknown-connector-succeeds": "Answers session-start on an unknown connector with success and a session-id.",
    "refuses-remote-start": "Answers every session-start with result 300.",
    "no-session-id": "Answers an accepted session-start with 'is-stoppable': true and no session-id.",
    "double-start": "Accepts a second session-start on a connector with a running session.",
    "forgets-sessions": "Answers session-stop of a running session with 182.",
    "stop-anything-succeeds": "Answers every session-stop with 0, whatever connector or session it names.",
    "reserve-unknown-connector-succeeds": "Answers reservation-start on an unknown connector with success.",
    "reservation-end-in-past": "Answers reservation-start with an 'end' 15 minutes before now.",
    "forgets-reservations": "Accepts reservation-start but stores nothing.",
    "reservation-first-holder-only": "Lets only the first EVCO ID of a reservation start a session (others get 323).",
    "two-reservations-per-evco": "Lets one EVCO ID hold reservations on two connectors (never answers 194).",
    "reservation-stop-first-identifier-only": "Lets only the first EVCO ID of a reservation cancel it (others: 189).",
    "reservation-stop-unknown-succeeds": "Answers reservation-stop with 0 when no reservation matches.",
    "processed-counts-all": "Answers rfid-post with 'processed' = the number of UIDs in the request.",
    "rfid-post-appends": "Adds the UIDs of rfid-post to the whitelist and never removes any.",
    # What it sends (POST /control, reference_cpo/_control.py; the outbox for retries-after-4xx):
    "status-before-station": "push-stations skips every station but the first, so later statuses name unposted ones.",
    "cdr-stop-before-start": "Sends CDRs whose session-interval stop is 5 minutes before its start.",
    "cdr-other-session-id": "Sends the CDR of a remotely started session with a new session-id, not the answer's.",
    "rfid-lowercase": "Sends the UID of rfid-verify in lower case.",
    "rfid-unpadded": "Sends the UID of rfid-verify without its zero-padding on the left.",
    "retries-after-4xx": "Sends a message again after a 4xx answer, as after a 5xx.",
    "no-status-on-change": "set-status sends no connector-post-status.",
    "no-cdr": "Sends no CDR (session-post) when a session ends.",
    "duplicate-connector-ids": "push-stations puts the first station's first connector into every station too.",
    "authorizes-offline-only": "present-rfid starts charging without an rfid-verify (no online authorization).",
    "station-without-address": "Sends station-posts without the station's address.",
    "changes-connectors": "Every push-stations after the first leaves out the last connector of each station.",
    "ignores-verify-answer": "present-rfid starts charging whatever the rfid-verify answer was.",
    "cdr-energy-too-high": "Sends CDRs with 1,000 kWh, whatever the session.",
    "new-session-id-on-retry": "A session-post that is retried gets a new session-id (the outbox).",
    "cdr-other-partner-identifier": "Sends its CDRs under another partner identifier than its stations and statuses.",
    "sends-emp-calls": "push-stations also sends an rfid-post, a call only an EMP sends.",
    "stations-in-one-post": "push-stations sends one station-post whose 'station' is the list of all stations.",
    "one-station-id": "push-stations posts every station under the first station's id.",
    "changes-connector-speed": "Every push-stations after the first halves the speed of each connector.",
    "evse-id-without-e": "push-stations sends connector ids without the 'E' of the EVSE ID (DE*REF*000001*1).",
    "cdr-session-id-per-connector": "The CDRs of RFID sessions carry the session-id 'RFID-<connector>', one for all.",
    "cdr-update-new-session-id": "An RFID session's final CDR gets a new session-id, not the one sent at its start.",
}
DEFECTS: dict[str, str] = {**TRANSPORT_DEFECTS, **SENDER_DEFECTS, **CPO_DEFECTS}

CPO_BEHAVIOURS: dict[str, str] = {
    "honours-statuses": "Refuses a session-start on a connector whose status is Occupied or Reserved (320), Offline "
    "or Unknown (310), and a reservation-start on an Occupied or Reserved one (323).",
    "stop-needs-session-id": "Refuses a session-stop without session-id (182).",
    "offline-whitelist": "present-rfid starts charging at once for a UID of the EMP's whitelist (rfid-post); "
    "other UIDs are verified online (rfid-verify).",
    "start-011": "Answers an accepted session-start with 011 'Successfully started a charging session'.",
    "start-012": "Answers an accepted session-start with 012 'Successfully authorized a charging session'.",
}
# Several behaviours at once: a CPO as strict as the spec lets it be.
COMBINATIONS: dict[str, tuple[str, ...]] = {
    "strict-partner": (
        "strict-validation",
        "refusals-as-4xx",
        "honours-statuses",
        "stop-needs-session-id",
        "extra-answer-fields",
    ),
}
BEHAVIOURS: dict[str, str] = {
    **TRANSPORT_BEHAVIOURS,
    **SENDER_BEHAVIOURS,
    **CPO_BEHAVIOURS,
    **{name: "All of: " + ", ".join(parts) + "." for name, parts in COMBINATIONS.items()},
}

# Load faults (examples/_reference/_faults.py): failures only the aggregate of a load run shows, ``--fault NAME``.
FAULTS: dict[str, str] = {**TRANSPORT_FAULTS, **CPO_FAULTS}


def create_app(
    *,
    db_path: str,
    api_keys: list[str],
    defects: Iterable[str] = (),
    connectors: list[str] | None = None,
    partner_url: str | None = None,
    partner_api_key: str | None = None,
    partner_identifier: str = DEFAULT_PARTNER_IDENTIFIER,
    behaviours: Iterable[str] = (),
    faults: Iterable[str] = (),
) -> Flask:
    """The reference CPO with ``defects`` and ``behaviours`` switched on, its state in SQLite at ``db_path``.

    ``connectors`` are the EVSE IDs it has (default `DEFAULT_CONNECTORS`; one station per EVSE
    ID prefix). It sends to the EMP at ``partner_url`` with ``partner_api_key``, naming itself
    ``partner_identifier``; without a partner it only receives. ``ValueError`` (`ConfigError`)
    for an unknown defect or behaviour, no API key, an empty connector list or half a partner.
    ``db_path`` may be ``:memory:``; a file keeps the state, the connectors' statuses too.
    """
    chosen = check_defects(DEFECTS, defects, TITLE)
    behaving = check_behaviours(BEHAVIOURS, COMBINATIONS, behaviours, TITLE)
    failing = check_faults(FAULTS, faults, TITLE)
    check_api_keys(api_keys, TITLE)
    evse_ids = list(DEFAULT_CONNECTORS if connectors is None else connectors)
    if isinstance(connectors, str) or not evse_ids or not all(isinstance(c, str) and c for c in evse_ids):
        raise ConfigError(f"Received: connectors {connectors!r}\nExpected: a non-empty list of EVSE IDs.")
    outbox = make_outbox(partner_url, partner_api_key, partner_identifier, chosen, TITLE, behaving)
    db = Database(db_path, SCHEMA)
    with db.transaction() as tx:  # the connectors are configuration: the list given now replaces any before
        if "status" not in {row["name"] for row in tx.execute("PRAGMA table_info(connectors)")}:  # an older file
            tx.execute("ALTER TABLE connectors ADD COLUMN status TEXT NOT NULL DEFAULT 'Available'")
        tx.execute(f"DELETE FROM connectors WHERE evse_id NOT IN ({', '.join('?' * len(evse_ids))})", evse_ids)
        tx.executemany("INSERT OR IGNORE INTO connectors (evse_id) VALUES (?)", [(c,) for c in evse_ids])
    return make_app(
        __name__,
        role="CPO",
        handlers=HANDLERS,
        defects=chosen,
        api_keys=api_keys,
        db=db,
        outbox=outbox,
        actions=ACTIONS,
        behaviours=behaving,
        faults=failing,
    )
