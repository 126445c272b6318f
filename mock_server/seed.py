"""Seed data: what the mock knows before the first request.

Defaults are the staging accounts of ``testaccount.rst`` (EMP) and one two-connector station
(CPO). A JSON fixtures file (the ``FIXTURES`` setting, ``--fixtures PATH``) replaces any of
the three lists::

    {"rfids": [{"uid": "04523022AA4881", "evco-id": "DE*8PS*123456*7", "state": "active"}],
     "stations": [<a station object as in station-post>],
     "reservable": {"DE*8PS*E000001*2": false}}

``state`` is ``active``, ``inactive`` (answers 192) or ``no-payment`` (answers 193). Every
station is checked against the station-post schema, so a seed station cannot carry a typo.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flask import Flask

from mock_server._store import Store, now
from oioi import validate
from oioi.errors import ConfigError

# testaccount.rst, "UIDs to test RFID": 04523022AA4881 is active and belongs to
# test1@plugsurfing.com; 0477BD22AA4880 is inactive; 0477BD22AA4AAA does not exist.
ACTIVE_UID = "04523022AA4881"
INACTIVE_UID = "0477BD22AA4880"
UNKNOWN_UID = "0477BD22AA4AAA"
ACTIVE_EVCO_ID = "DE*8PS*123456*7"

DEFAULT_RFIDS = [
    {"uid": ACTIVE_UID, "evco-id": ACTIVE_EVCO_ID, "state": "active"},
    {"uid": INACTIVE_UID, "evco-id": None, "state": "inactive"},
]

DEFAULT_STATION: dict[str, Any] = {
    "id": "oioi-mock-station-1",
    "name": "OIOI mock station",
    "description": "The mock CPO's station fixture.",
    "latitude": 52.520008,
    "longitude": 13.404954,
    "address": {"street": "Alexanderplatz", "street-number": "1", "city": "Berlin", "zip": "10178", "country": "DE"},
    "contact": {"phone": "+49 30 1234567", "website": "https://example.com", "email": "cpo@example.com"},
    "cpo-id": "DE*8PS",
    "is-open-24": True,
    "connectors": [
        {"id": "DE*8PS*E000001*1", "name": "Type2", "speed": 22.0},
        {"id": "DE*8PS*E000001*2", "name": "Combo", "speed": 50.0},
    ],
    "is-reservable": True,
    "is-free-charge": False,
    "is-green-power-available": True,
    "is-plugin-charge": False,
    "is-roofed": False,
    "is-private": False,
    "deleted": False,
}
RFID_STATES = ("active", "inactive", "no-payment")


def read(path: str | None) -> dict[str, Any]:
    """The seed data of a fixtures file, checked, merged over the defaults."""
    data: dict[str, Any] = {}
    if path:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as error:
            raise ConfigError(f"Cannot read the fixtures file {path}: {error.strerror}.") from None
        except ValueError as error:
            raise ConfigError(f"The fixtures file {path} is not JSON: {error}.") from None
        if not isinstance(data, dict) or set(data) - {"rfids", "stations", "reservable"}:
            raise ConfigError(f"The fixtures file {path} must be an object with 'rfids', 'stations' and 'reservable'.")
    seed = {
        "rfids": data.get("rfids", DEFAULT_RFIDS),
        "stations": data.get("stations", [DEFAULT_STATION]),
        "reservable": data.get("reservable", {}),
    }
    for rfid in seed["rfids"]:
        if not isinstance(rfid, dict) or "uid" not in rfid or rfid.get("state", "active") not in RFID_STATES:
            raise ConfigError(f"Fixture RFID {rfid!r} needs 'uid', 'evco-id' and a state out of {list(RFID_STATES)}.")
    for station in seed["stations"]:
        message = {"station-post": {"station": station, "partner-identifier": "oioi-fixture-check-0001"}}
        errors = [f for f in validate(message) if f.severity == "error"]
        if errors:
            raise ConfigError(f"Fixture station {station.get('id')!r} breaks station-post: {errors[0]}")
    return seed


def load(app: Flask, store: Store) -> None:
    """Put the seed data into an empty store (a store that already has state keeps it)."""
    seed = read(app.config["FIXTURES"])
    app.extensions["oioi_seed"] = seed
    with store.write() as db:
        if db.execute("SELECT 1 FROM rfids UNION ALL SELECT 1 FROM stations LIMIT 1").fetchone() is not None:
            return
        _insert(db, seed, app.config["ROLE"], app.config["OWN_PARTNER_IDENTIFIER"])


def reload(app: Flask, store: Store) -> None:
    """After a reset: the seed data again."""
    with store.write() as db:
        _insert(db, app.extensions["oioi_seed"], app.config["ROLE"], app.config["OWN_PARTNER_IDENTIFIER"])


def _insert(db: Any, seed: dict[str, Any], role: str, own: str) -> None:
    db.executemany(
        "INSERT OR REPLACE INTO rfids (uid, evco_id, state) VALUES (?, ?, ?)",
        [(r["uid"], r.get("evco-id"), r.get("state", "active")) for r in seed["rfids"]],
    )
    if role != "cpo":
        return  # an EMP learns stations from its CPO partner's station-post
    for station in seed["stations"]:
        db.execute(
            "INSERT OR REPLACE INTO stations (id, partner, body, deleted, changed) VALUES (?, ?, ?, ?, ?)",
            (station["id"], own, json.dumps(station), int(station.get("deleted", False)), now()),
        )
        reservable = bool(station.get("is-reservable", True))
        for connector in station["connectors"]:
            db.execute(
                "INSERT OR REPLACE INTO connectors (evse_id, station_id, partner, status, reservable)"
                " VALUES (?, ?, ?, 'Available', ?)",
                (connector["id"], station["id"], own, int(seed["reservable"].get(connector["id"], reservable))),
            )
