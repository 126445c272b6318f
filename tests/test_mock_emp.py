"""The mock playing the EMP: what it receives (cpo/poi.rst, cpo/cdr.rst, cpo/rfid_start.rst)."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

import pytest

from mock_server.seed import ACTIVE_EVCO_ID, ACTIVE_UID, DEFAULT_STATION, INACTIVE_UID, UNKNOWN_UID
from tests.fixtures.mock import EMP_KEY, PARTNER, MockProcess

STATION_ID = "berlin-0001"


def station(**changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(DEFAULT_STATION)
    body.update(id=STATION_ID, connectors=[{"id": "DE*8PS*E777001*1", "name": "Type2", "speed": 11.0},
                                           {"id": "DE*8PS*E777001*2", "name": "Type2", "speed": 11.0}])
    body.update(changes)
    return body


def post_station(emp: MockProcess, body: dict[str, Any], partner: str = PARTNER) -> tuple[int, int]:
    answer = emp.post({"station-post": {"station": body, "partner-identifier": partner}})
    return answer.status_code, answer.json()["result"]["code"]


def status(connector: str, value: str = "Occupied", partner: str = PARTNER) -> dict[str, Any]:
    return {"connector-post-status": {"connector-id": connector, "status": value, "partner-identifier": partner}}


def cdr(session_id: str = "session-0001", **changes: Any) -> dict[str, Any]:
    body = {
        "user": {"identifier-type": "evco-id", "identifier": ACTIVE_EVCO_ID},
        "session-id": session_id,
        "connector-id": "DE*8PS*E777001*1",
        "session-interval": {"start": "2026-11-24T10:00:00+01:00"},
        "charging-interval": {"start": "2026-11-24T10:01:00+01:00"},
        "partner-identifier": PARTNER,
    }
    body.update(changes)
    return {"session-post": body}


def test_station_post_stores_the_station_and_its_connectors(emp: MockProcess) -> None:
    assert post_station(emp, station()) == (200, 0)
    state = emp.state()
    assert [s["id"] for s in state["stations"]] == [STATION_ID]
    assert sorted(c["evse_id"] for c in state["connectors"]) == ["DE*8PS*E777001*1", "DE*8PS*E777001*2"]
    assert {c["partner"] for c in state["connectors"]} == {PARTNER}


def test_station_post_with_an_unknown_partner_identifier_gets_211(emp: MockProcess) -> None:
    assert post_station(emp, station(), partner="someone-else-0000000001") == (400, 211)
    assert emp.state()["stations"] == []


def test_changing_the_connectors_of_a_station_is_recorded_as_a_violation(emp: MockProcess) -> None:
    assert post_station(emp, station()) == (200, 0)
    assert post_station(emp, station()) == (200, 0)
    assert emp.state()["violations"] == []
    fewer = station(connectors=[{"id": "DE*8PS*E777001*1", "name": "Type2", "speed": 11.0}])
    assert post_station(emp, fewer) == (200, 0)
    (violation,) = emp.state()["violations"]
    assert (violation["call"], violation["rule"]) == ("station-post", "station-connectors-unchanged")


def test_connector_post_status_of_an_unknown_connector_gets_181(emp: MockProcess) -> None:
    answer = emp.post(status("DE*8PS*E999999*1"))
    assert (answer.status_code, answer.json()["result"]["code"]) == (200, 181)


def test_connector_post_status_of_another_partners_connector_gets_181(emp: MockProcess) -> None:
    post_station(emp, station())
    answer = emp.post(status("DE*8PS*E777001*1", partner="oioi-mock-partner-0000000000000001"))
    assert answer.json()["result"]["code"] == 181
    assert {c["status"] for c in emp.state()["connectors"]} == {"Unknown"}


def test_connector_post_status_updates_the_status(emp: MockProcess) -> None:
    post_station(emp, station())
    answer = emp.post(status("DE*8PS*E777001*2", "Occupied"))
    assert answer.json()["result"]["code"] == 0
    by_id = {c["evse_id"]: c["status"] for c in emp.state()["connectors"]}
    assert by_id == {"DE*8PS*E777001*1": "Unknown", "DE*8PS*E777001*2": "Occupied"}


def test_session_post_stores_a_cdr_and_a_later_post_updates_it(emp: MockProcess) -> None:
    post_station(emp, station())
    assert emp.post(cdr()).json()["result"]["code"] == 0
    (session,) = emp.state()["sessions"]
    assert session["state"] == "ongoing"
    final = cdr(**{"session-interval": {"start": "2026-11-24T10:00:00+01:00", "stop": "2026-11-24T11:00:00+01:00"},
                   "charging-interval": {"start": "2026-11-24T10:01:00+01:00", "stop": "2026-11-24T10:59:00+01:00"},
                   "energy-consumed": 12.5})
    assert emp.post(final).json()["result"]["code"] == 0
    (session,) = emp.state()["sessions"]
    assert session["state"] == "finished"
    assert session["body"]["energy-consumed"] == 12.5


def test_session_post_with_an_inverted_interval_gets_400_230(emp: MockProcess) -> None:
    bad = cdr(**{"session-interval": {"start": "2026-11-24T11:00:00+01:00", "stop": "2026-11-24T10:00:00+01:00"}})
    answer = emp.post(bad)
    assert (answer.status_code, answer.json()["result"]["code"]) == (400, 230)
    assert "semantic/session-interval-ordered" in {f["rule"] for f in answer.json()["error"]}
    assert emp.state()["sessions"] == []


@pytest.mark.parametrize(("uid", "code"), [(ACTIVE_UID, 0), (INACTIVE_UID, 192), (UNKNOWN_UID, 191)])
def test_rfid_verify_answers_from_the_test_accounts(emp: MockProcess, uid: str, code: int) -> None:
    answer = emp.post({"rfid-verify": {"rfid": uid}})
    body = answer.json()
    assert (answer.status_code, body["result"]["code"]) == (200, code)
    assert body.get("evco-id") == (ACTIVE_EVCO_ID if code == 0 else None)


def test_fixtures_file_replaces_the_rfids(tmp_path: Path) -> None:
    fixtures = tmp_path / "fixtures.json"
    fixtures.write_text(json.dumps({"rfids": [
        {"uid": "0A0B0C0D", "evco-id": "NL*ABC*000042*X", "state": "active"},
        {"uid": "0A0B0C0E", "evco-id": "NL*ABC*000043*1", "state": "no-payment"},
    ]}))
    mock = MockProcess("emp", tmp_path / "emp.sqlite3", EMP_KEY, "--fixtures", str(fixtures)).start()
    try:
        assert mock.post({"rfid-verify": {"rfid": "0A0B0C0D"}}).json()["evco-id"] == "NL*ABC*000042*X"
        assert mock.post({"rfid-verify": {"rfid": "0A0B0C0E"}}).json()["result"]["code"] == 193
        assert mock.post({"rfid-verify": {"rfid": ACTIVE_UID}}).json()["result"]["code"] == 191
    finally:
        mock.kill()


def test_oem_lookups_answer_from_the_stored_stations(emp: MockProcess) -> None:
    assert post_station(emp, station()) == (200, 0)
    assert emp.post(status("DE*8PS*E777001*1", "Occupied")).json()["result"]["code"] == 0
    berlin = {"min-lat": 52.0, "max-lat": 53.0, "min-long": 13.0, "max-long": 14.0}

    surface = emp.post({"station-get-surface": {**berlin, "filters": {}}}).json()
    (hit,) = surface["stations"]
    assert (hit["name"], surface["hasMore"]) == (DEFAULT_STATION["name"], False)
    assert sorted(hit["connector-statuses"].values()) == ["Occupied", "Unknown"]
    elsewhere = {"min-lat": 0.0, "max-lat": 1.0, "min-long": 0.0, "max-long": 1.0}
    assert emp.post({"station-get-surface": {**elsewhere, "filters": {}}}).json()["stations"] == []
    no_combo = {**berlin, "filters": {"connector-types": ["Combo"]}}
    assert emp.post({"station-get-surface": no_combo}).json()["stations"] == []
    excluded = {**berlin, "filters": {"excludes": [hit["id"]]}}
    assert emp.post({"station-get-surface": excluded}).json()["stations"] == []

    by_ids = emp.post({"station-get-by-ids": {"station-ids": [hit["id"], hit["id"] + 1000]}}).json()
    (found,) = by_ids["stations"]
    assert found["id"] == hit["id"]
    assert [(c["external-id"], c["status"]) for c in found["connectors"]] == [
        ("DE*8PS*E777001*1", "Occupied"), ("DE*8PS*E777001*2", "Unknown")]

    tariffs = emp.post({"tariffs-get-by-station-ids": {"station-ids": [hit["id"]]}}).json()
    assert [(s["id"], len(s["connectors"])) for s in tariffs["stations"]] == [(hit["id"], 2)]


def test_posting_a_station_again_keeps_its_id_and_dates_each_change(emp: MockProcess) -> None:
    def lookup() -> tuple[int, str]:
        box = {"min-lat": 52.0, "max-lat": 53.0, "min-long": 13.0, "max-long": 14.0, "filters": {}}
        (hit,) = emp.post({"station-get-surface": box}).json()["stations"]
        return hit["id"], hit["last-static-change"]

    assert post_station(emp, station()) == (200, 0)
    first = lookup()
    assert post_station(emp, station()) == (200, 0)
    assert lookup() == first
    time.sleep(0.01)  # last-static-change has millisecond resolution
    assert post_station(emp, station(name="Renamed station")) == (200, 0)
    renamed = lookup()
    assert renamed[0] == first[0] and renamed[1] > first[1]
