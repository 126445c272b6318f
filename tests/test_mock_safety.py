"""The mock's own mistakes: never sent as a malformed answer, always journaled, never half-applied.

These replace a handler inside the app, so they use Flask's test client on ``create_app``
with a real SQLite file rather than a server process.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from flask import Flask

from mock_server import create_app
from mock_server._endpoint import Inbound
from oioi.results import EvseNotFound

KEY = "safety-test-key-8e2f41"
VERIFY = {"rfid-verify": {"rfid": "04523022AA4881"}}


def app_with(tmp_path: Path, handler: Any) -> Flask:
    app = create_app("emp", {"API_KEYS": [KEY], "DATABASE": str(tmp_path / "mock.sqlite3")})
    app.extensions["oioi_handlers"]["rfid-verify"] = handler
    return app


def post(app: Flask) -> tuple[int, int, dict[str, Any]]:
    client = app.test_client()
    answer = client.post("/api/v4/request", json=VERIFY, headers={"Authorization": f"key={KEY}"})
    (entry,) = client.get("/admin/journal").get_json()["entries"]
    return answer.status_code, answer.get_json()["result"]["code"], entry


def test_an_answer_that_breaks_the_response_schema_is_never_sent(tmp_path: Path) -> None:
    status, code, entry = post(app_with(tmp_path, lambda ex, body: {"evco-id": 42}))
    assert (status, code) == (500, 100)
    assert [(f["rule"], f["path"]) for f in entry["findings"]] == [("mock/invalid-answer", "/evco-id")]
    assert entry["response_body"]["result"]["code"] == 100


def test_a_failing_handler_is_a_journaled_500_and_its_changes_are_undone(tmp_path: Path) -> None:
    def half_done(ex: Inbound, body: dict[str, Any]) -> dict[str, Any]:
        ex.tx.execute("INSERT INTO rfids (uid, evco_id, state) VALUES ('0A0B0C0D', NULL, 'active')")
        raise RuntimeError("a bug in the handler")

    app = app_with(tmp_path, half_done)
    status, code, entry = post(app)
    assert (status, code) == (500, 100)
    assert [f["rule"] for f in entry["findings"]] == ["mock/internal-error"]
    assert "a bug in the handler" in entry["findings"][0]["message"]
    uids = {row["uid"] for row in app.test_client().get("/admin/state").get_json()["rfids"]}
    assert "0A0B0C0D" not in uids and "04523022AA4881" in uids


def test_a_refusal_after_a_change_undoes_only_its_own_changes(tmp_path: Path) -> None:
    """A handler that wrote and then refused leaves nothing behind but its journal row; a request
    written while it waited for the write lock keeps its changes and its outbound pushes, once each."""
    app = create_app("emp", {"API_KEYS": [KEY], "DATABASE": str(tmp_path / "mock.sqlite3")})
    inside, go = threading.Event(), threading.Event()
    pushed: list[str] = []

    def first(ex: Inbound, body: dict[str, Any]) -> dict[str, Any]:
        ex.tx.execute("INSERT INTO rfids (uid, evco_id, state) VALUES ('0A0A0A0A', NULL, 'active')")
        ex.after.append(lambda: pushed.append("first"))
        inside.set()
        assert go.wait(10)
        return {"evco-id": "DE*8PS*123456*7"}

    def refusing(ex: Inbound, body: dict[str, Any]) -> dict[str, Any]:
        ex.tx.execute("INSERT INTO rfids (uid, evco_id, state) VALUES ('0B0B0B0B', NULL, 'active')")
        raise EvseNotFound("written, then refused")

    app.extensions["oioi_handlers"]["rfid-verify"] = first
    app.extensions["oioi_handlers"]["connector-post-status"] = refusing
    answers: dict[str, tuple[int, int]] = {}

    def send(name: str, message: dict[str, Any]) -> None:
        answer = app.test_client().post("/api/v4/request", json=message, headers={"Authorization": f"key={KEY}"})
        answers[name] = (answer.status_code, answer.get_json()["result"]["code"])

    status = {"connector-post-status": {"connector-id": "DE*8PS*E000001*1", "status": "Available",
                                        "partner-identifier": "oioi-test-partner-0000000001"}}
    threads = [threading.Thread(target=send, args=("first", VERIFY))]
    threads[0].start()
    assert inside.wait(10)
    threads.append(threading.Thread(target=send, args=("refusing", status)))
    threads[1].start()
    time.sleep(0.05)  # the second request has read and checked its body and waits for the write lock
    go.set()
    for thread in threads:
        thread.join(10)
    assert answers == {"first": (200, 0), "refusing": (200, 181)}
    client = app.test_client()
    uids = {row["uid"] for row in client.get("/admin/state").get_json()["rfids"]}
    assert "0A0A0A0A" in uids and "0B0B0B0B" not in uids
    assert pushed == ["first"]
    calls = sorted(e["call"] for e in client.get("/admin/journal").get_json()["entries"])
    assert calls == ["connector-post-status", "rfid-verify"]
