"""The mock's own mistakes: never sent as a malformed answer, always journaled, never half-applied.

These replace a handler inside the app, so they use Flask's test client on ``create_app``
with a real SQLite file rather than a server process.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

from mock_server import create_app
from mock_server._context import Exchange

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
    def half_done(ex: Exchange, body: dict[str, Any]) -> dict[str, Any]:
        ex.tx.execute("INSERT INTO rfids (uid, evco_id, state) VALUES ('0A0B0C0D', NULL, 'active')")
        raise RuntimeError("a bug in the handler")

    app = app_with(tmp_path, half_done)
    status, code, entry = post(app)
    assert (status, code) == (500, 100)
    assert [f["rule"] for f in entry["findings"]] == ["mock/internal-error"]
    assert "a bug in the handler" in entry["findings"][0]["message"]
    uids = {row["uid"] for row in app.test_client().get("/admin/state").get_json()["rfids"]}
    assert "0A0B0C0D" not in uids and "04523022AA4881" in uids
