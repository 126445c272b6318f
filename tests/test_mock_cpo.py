"""The mock playing the CPO: what it receives, and what it then sends on its own (cpo/remote_start.rst,
cpo/reservation.rst, cpo/rfid_start.rst). Its partner is the EMP mock, so every push is checked there."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mock_server.seed import ACTIVE_EVCO_ID
from tests.fixtures.mock import CPO_KEY, MockProcess

FREE = "DE*8PS*E000001*1"
OTHER = "DE*8PS*E000001*2"
OWN = "oioi-mock-partner-0000000000000001"


def start(connector: str = FREE, evco: str = ACTIVE_EVCO_ID) -> dict[str, Any]:
    return {"session-start": {"user": {"identifier-type": "evco-id", "identifier": evco}, "connector-id": connector}}


def stop(connector: str = FREE, **extra: Any) -> dict[str, Any]:
    return {"session-stop": {"user": {"identifier-type": "evco-id", "identifier": ACTIVE_EVCO_ID},
                             "connector-id": connector, **extra}}


def reserve(connector: str = FREE, evco: str = ACTIVE_EVCO_ID) -> dict[str, Any]:
    return {"reservation-start": {"connector-id": connector, "identifier": [{"evco-id": evco}]}}


def code(answer: Any) -> int:
    result: int = answer.json()["result"]["code"]
    return result


def announce_station(cpo: MockProcess, emp: MockProcess) -> None:
    """The CPO posts its fixture station to the EMP, as a CPO does before anything else."""
    entry = cpo.admin("POST", "send", json={"call": "station-post"})
    assert (entry["status"], entry["result_code"]) == (200, 0), entry


def test_session_start_on_an_unknown_connector_gets_181(cpo: MockProcess) -> None:
    assert code(cpo.post(start("DE*8PS*E424242*1"))) == 181


def test_session_start_returns_a_session_id_and_pushes_occupied(cpo: MockProcess, emp: MockProcess) -> None:
    announce_station(cpo, emp)
    answer = cpo.post(start())
    assert code(answer) == 0
    body = answer.json()["session-start"]
    assert body["is-stoppable"] is True and body["session-id"]
    (push,) = emp.wait_for("connector-post-status")
    assert push["request_body"]["connector-post-status"]["status"] == "Occupied"
    assert (push["status"], push["result_code"]) == (200, 0)
    assert {c["evse_id"]: c["status"] for c in emp.state()["connectors"]}[FREE] == "Occupied"


def test_session_start_on_an_occupied_connector_gets_320(cpo: MockProcess) -> None:
    assert code(cpo.post(start())) == 0
    assert code(cpo.post(start(evco="DE*8PS*654321*X"))) == 320


def test_session_start_on_a_connector_reserved_by_someone_else_gets_323(cpo: MockProcess) -> None:
    assert code(cpo.post(reserve(evco="DE*8PS*654321*X"))) == 0
    assert code(cpo.post(start())) == 323
    assert code(cpo.post(start(evco="DE*8PS*654321*X"))) == 0


def test_session_stop_of_an_unknown_connector_gets_181(cpo: MockProcess) -> None:
    assert code(cpo.post(stop("DE*8PS*E424242*1"))) == 181


def test_session_stop_without_a_session_gets_182(cpo: MockProcess) -> None:
    assert code(cpo.post(stop())) == 182
    cpo.post(start())
    assert code(cpo.post(stop(**{"session-id": "not-this-session"}))) == 182


def test_session_stop_frees_the_connector_and_sends_the_cdr(cpo: MockProcess, emp: MockProcess) -> None:
    announce_station(cpo, emp)
    session_id = cpo.post(start()).json()["session-start"]["session-id"]
    assert code(cpo.post(stop(**{"session-id": session_id}))) == 0
    pushes = emp.wait_for("connector-post-status", count=2)
    assert [p["request_body"]["connector-post-status"]["status"] for p in pushes] == ["Occupied", "Available"]
    (cdr,) = emp.wait_for("session-post")
    assert (cdr["status"], cdr["result_code"], cdr["findings"]) == (200, 0, [])
    assert cdr["request_body"]["session-post"]["session-id"] == session_id
    (stored,) = emp.state()["sessions"]
    assert (stored["session_id"], stored["state"]) == (session_id, "finished")


def test_rfid_post_replaces_the_whitelist_and_counts_new_uids(cpo: MockProcess) -> None:
    def post(uids: list[str], partner: str = "emp-partner-identifier-01") -> int:
        answer = cpo.post({"rfid-post": {"rfids": uids, "partner-identifier": partner}})
        assert code(answer) == 0
        processed: int = answer.json()["rfid"]["processed"]
        return processed

    assert post(["04523022AA4881", "0A0B0C0D"]) == 2
    assert post(["04523022AA4881", "0A0B0C0E"]) == 1
    assert post(["0A0B0C0F"], partner="emp-partner-identifier-02") == 1
    whitelist = {(r["partner"], r["uid"]) for r in cpo.state()["whitelist"]}
    assert whitelist == {("emp-partner-identifier-01", "04523022AA4881"), ("emp-partner-identifier-01", "0A0B0C0E"),
                         ("emp-partner-identifier-02", "0A0B0C0F")}


def test_reservation_start_returns_its_end_and_rules_out_a_second_one(cpo: MockProcess) -> None:
    answer = cpo.post(reserve())
    assert code(answer) == 0
    assert answer.json()["reservation-start"]["end"] > "2026"
    assert code(cpo.post(reserve(evco="DE*8PS*654321*X"))) == 323
    assert code(cpo.post(reserve(OTHER))) == 194, "one EVCO ID, two active reservations"
    assert code(cpo.post(reserve("DE*8PS*E424242*1"))) == 181


def test_reservation_start_on_a_connector_without_reservation_gets_330(tmp_path: Path) -> None:
    fixtures = tmp_path / "fixtures.json"
    fixtures.write_text(json.dumps({"reservable": {OTHER: False}}))
    mock = MockProcess("cpo", tmp_path / "cpo.sqlite3", CPO_KEY, "--fixtures", str(fixtures)).start()
    try:
        assert code(mock.post(reserve(OTHER))) == 330
        assert code(mock.post(reserve(FREE))) == 0
    finally:
        mock.kill()


@pytest.mark.parametrize("identifier_type", ["evco-id", "rfid"])
def test_reservation_stop_of_an_unknown_reservation_gets_189(cpo: MockProcess, identifier_type: str) -> None:
    identifier = ACTIVE_EVCO_ID if identifier_type == "evco-id" else "04523022AA4881"
    answer = cpo.post({"reservation-stop": {"identifier-type": identifier_type, "identifier": identifier}})
    assert code(answer) == 189


def test_reservation_stop_cancels_by_any_of_its_identifiers(cpo: MockProcess) -> None:
    message = {"reservation-start": {"connector-id": FREE,
                                     "identifier": [{"evco-id": ACTIVE_EVCO_ID, "rfid": "04523022AA4881"}]}}
    assert code(cpo.post(message)) == 0
    answer = cpo.post({"reservation-stop": {"identifier-type": "rfid", "identifier": "04523022AA4881"}})
    assert code(answer) == 0
    assert cpo.state()["reservations"] == []
