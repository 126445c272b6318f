"""Redaction for sharing: consistent same-shape pseudonyms, nothing of the original left, the same verdicts."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, note
from hypothesis import strategies as st

from mock_server._store import Store
from oioi import Finding, calls, validate
from oioi.redact import Pseudonyms, evco_check_digit
from oioi.strategies import invalid_messages, messages

ROOT = Path(__file__).resolve().parent.parent
KEY = "b4f1c0de-5ecr-e7ke-y000-00000000a1b2"
GOOD_EVCO = "DE*8PS*123456*" + evco_check_digit("DE8PS123456")  # DE*8PS*123456*0
WRONG_EVCO = "DE*8PS*123456*7"  # the spec's own example: its check digit is not the DIN SPEC 91286 one
LOWER_UID = "abcdefab"  # calls/rfid_post.rst's example: lower case, which the schema refuses
UID = "04523022AA4881"
USER = {"first-name": "Jürgen", "last-name": "Kowalczyk", "email": "j.kowalczyk@mail.example.org",
        "phone": "+49 30 8122321", "street": "Torgauer Str.", "street-number": "12-15", "city": "Berlin",
        "zip": "10829"}


def char_classes(value: str) -> list[str]:
    """What a pseudonym keeps of each character: digit, hexadecimal or other letter with its case, or itself."""
    def one(c: str) -> str:
        if c.isdigit():
            return "digit"
        if c == "X" or not c.isalpha():
            return c
        group = "hex-" if c.lower() in "abcdef" else "letter-" if c.isascii() else "non-ascii-"
        return group + ("upper" if c.isupper() else "lower" if c.islower() else "caseless")
    return [one(c) for c in value]


def verdicts(message: Any, call: str | None = None, direction: str = "request", **kw: Any) -> list[tuple[str, str]]:
    return sorted((f.rule, f.path) for f in validate(message, call=call, direction=direction, **kw))


def alone(value: str) -> re.Pattern[str]:
    return re.compile(r"(?<![A-Za-z0-9])" + re.escape(value) + r"(?![A-Za-z0-9])")


# --- the check digit -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("code", "digit"), [
    # DIN SPEC 91286's published examples (the "INTNM" worksheet) and a DIN EVCO ID in use.
    ("INTNM000071", "9"), ("INTNM000110", "X"), ("INTNM000124", "0"), ("INTNM000114", "6"),
    ("INTNM000191", "5"), ("NLTNM012204", "5"), ("nltnm012204", "5"),
])
def test_check_digit_is_din_spec_91286s(code: str, digit: str) -> None:
    assert evco_check_digit(code) == digit


def test_check_digit_sees_every_character() -> None:
    base = evco_check_digit("DE8PS123456")
    assert all(evco_check_digit("DE8PS123456"[:i] + "7" + "DE8PS123456"[i + 1:]) != base
               for i in range(5, 11) if "DE8PS123456"[i] != "7")


# --- shape and consistency -------------------------------------------------------------------------------


@pytest.mark.parametrize("uid", [UID, LOWER_UID, "0452302", "04523022aa4881", "0000000012AB34", "00000000",
                                 "04523022AA4881FF00CC", "G4523022", "04:52:30:22", "0452302ÄAA4881"])
def test_a_uid_keeps_its_length_case_and_hex_digits(uid: str) -> None:
    p = Pseudonyms("salt")
    fake = p.pseudonym(uid, "uid")
    assert fake != uid
    assert char_classes(fake) == char_classes(uid)
    leading = len(uid) - len(uid.lstrip("0"))
    if leading < len(uid):
        assert fake[:leading] == "0" * leading  # a padded UID stays padded
    original = {"rfid-verify": {"rfid": uid}}
    assert verdicts(p.message(original)) == verdicts(original)


EVCO_IDS = [
    GOOD_EVCO, WRONG_EVCO, "IN-TNM-000110-X", "IN-TNM-000071-X", "de*8ps*a23b56*" + evco_check_digit("DE8PSA23B56"),
    "de*8ps*a23b56*1" if evco_check_digit("DE8PSA23B56") != "1" else "de*8ps*a23b56*2",
    "NLTNM0122045", "NL-TNM012204*5", "DE*8PS*156456730*9", "DE*8PS*123456", "DE*8PS*123456*x", "DE*8PS*12X456*Q",
    "de*8ps*üb3456*1", "DE*8PS*12345六*1",
]


@pytest.mark.parametrize("evco", EVCO_IDS)
def test_an_evco_id_keeps_country_separators_shape_and_check_digit_validity(evco: str) -> None:
    p = Pseudonyms("salt")
    fake = p.pseudonym(evco, "evco")
    assert fake != evco
    assert fake[:2] == evco[:2]
    assert char_classes(fake)[:-1] == char_classes(evco)[:-1]
    compact = re.sub(r"[*-]", "", evco)
    if re.fullmatch(r"[A-Za-z]{2}[*-]?[A-Za-z0-9]{3}[*-]?[A-Za-z0-9]{6}[*-]?[0-9X]", evco):
        fake_compact = re.sub(r"[*-]", "", fake)
        assert (evco_check_digit(fake_compact[:11]) == fake_compact[11]) == (
            evco_check_digit(compact[:11]) == compact[11])
        assert (fake[-1] == "X") == (evco[-1] == "X")
    else:
        assert char_classes(fake)[-1] == char_classes(evco)[-1]
    for message, call, direction in [
        ({"session-start": {"user": {"identifier-type": "evco-id", "identifier": evco}, "connector-id": "1356"}},
         None, "request"),
        ({"reservation-start": {"identifier": [{"evco-id": evco}], "connector-id": "DE*8PS*E123456"}},
         None, "request"),
        ({"evco-id": evco, "result": {"code": 0, "message": "Success."}}, "rfid-verify", "response"),
    ]:
        assert verdicts(p.message(message, call=call), call, direction) == verdicts(message, call, direction)


def test_a_valid_check_digit_stays_valid_and_a_wrong_one_wrong_over_many_ids() -> None:
    p = Pseudonyms("many")
    for n in range(400):
        number = f"{n * 7919 % 1000000:06d}"
        right = evco_check_digit("DE8PS" + number)
        for check in "0123456789X":
            fake = p.pseudonym(f"DE-8PS-{number}-{check}", "evco").replace("-", "")
            assert (evco_check_digit(fake[:11]) == fake[11]) == (check == right)


def test_the_same_value_gets_the_same_pseudonym_and_two_values_two() -> None:
    p = Pseudonyms("salt")
    uids = [f"{n:08X}" for n in range(0, 4000 * 7, 7)]  # many padded with zeros: few pseudonyms to choose from
    fakes = p.message({"rfid-post": {"rfids": uids}})["rfid-post"]["rfids"]
    assert fakes == [p.pseudonym(uid, "uid") for uid in uids]
    assert len(set(fakes)) == len(uids)
    assert not set(fakes) & set(uids)  # a message is read whole first: no pseudonym is another original


def test_pseudonyms_depend_on_the_salt_only() -> None:
    assert Pseudonyms("a").pseudonym(UID, "uid") == Pseudonyms("a").pseudonym(UID, "uid")
    assert Pseudonyms("a").pseudonym(UID, "uid") != Pseudonyms("b").pseudonym(UID, "uid")
    assert Pseudonyms().pseudonym(UID, "uid") != Pseudonyms().pseudonym(UID, "uid")  # a random salt each


def entry(n: int, call: str, body: Any, answer: Any = None, **extra: Any) -> dict[str, Any]:
    findings = [f.to_dict() for f in validate(body)] if isinstance(body, dict) else []
    return {"id": n, "time": "2026-12-07T10:00:00.000+00:00", "exchange": "inbound", "call": call,
            "request_headers": {"Authorization": "key=****************************a1b2",
                                "Content-Type": "application/json"},
            "request_body": body, "status": 200, "response_body": answer, "result_code": 0,
            "findings": findings, "latency_ms": 1.5, "fault": None, **extra}


def test_a_value_gets_one_pseudonym_in_bodies_headers_findings_and_raw_text() -> None:
    verify = entry(1, "rfid-verify", {"rfid-verify": {"rfid": LOWER_UID}},
                   {"evco-id": WRONG_EVCO, "result": {"code": 0, "message": "Success."}})
    raw = entry(2, "session-start", '{"session-start": {"user": {"identifier-type": "rfid", "identifier": "'
                + LOWER_UID + '"}, "connector-id": "1356"', {"result": {"code": 400, "message": "Not JSON."}})
    cdr = entry(3, "session-post", {"session-post": {"user": {"identifier-type": "evco-id", "identifier": WRONG_EVCO},
                                                     "session-id": "s-1"}},
                request_headers={"X-Api-Key": "partner-secret-0001", "Authorization": "key=****************a1b2"})
    out = Pseudonyms("salt").entries([verify, raw, cdr])
    fake_uid = out[0]["request_body"]["rfid-verify"]["rfid"]
    fake_evco = out[0]["response_body"]["evco-id"]
    assert fake_uid in out[0]["findings"][0]["message"]
    assert f'"identifier": "{fake_uid}"' in out[1]["request_body"]
    assert out[2]["request_body"]["session-post"]["user"]["identifier"] == fake_evco
    assert {e["request_headers"]["Authorization"] for e in out[:2]} == {out[0]["request_headers"]["Authorization"]}
    assert out[0]["request_headers"]["Authorization"].startswith("key=****")
    assert out[2]["request_headers"]["X-Api-Key"] != "partner-secret-0001"
    assert out[0]["request_headers"]["Content-Type"] == "application/json"
    text = json.dumps(out)
    for original in (LOWER_UID, WRONG_EVCO, "a1b2", "partner-secret-0001"):
        assert original not in text
    assert out[0]["findings"][0]["rule"] == verify["findings"][0]["rule"]
    assert (out[0]["id"], out[0]["time"], out[0]["call"]) == (1, verify["time"], "rfid-verify")


def user_post_details() -> dict[str, Any]:
    address = {k: USER[k] for k in ("street", "street-number", "city", "zip")} | {"country": "DE"}
    return {"user-post-details": {
        "user": {"identifier-type": "username", "identifier": USER["email"], "token": "4f2c9e0b7d1a"},
        "details": {"first-name": USER["first-name"], "last-name": USER["last-name"], "address": address,
                    "billing-address": address, "locale": "de", "phone": USER["phone"]},
    }}


def test_personal_fields_of_a_user_call_are_replaced_keeping_their_format() -> None:
    original = user_post_details()
    p = Pseudonyms("salt")
    redacted = p.message(original)
    details = redacted["user-post-details"]["details"]
    text = json.dumps(redacted, ensure_ascii=False)
    for value in USER.values():
        assert value not in text
    assert "4f2c9e0b7d1a" not in text
    assert re.fullmatch(r"[a-z]\.[a-z]{9}@[a-z]{4}\.[a-z]{7}\.[a-z]{3}",
                        redacted["user-post-details"]["user"]["identifier"])
    assert re.fullmatch(r"\+\d\d \d\d \d{7}", details["phone"])
    assert details["address"] == details["billing-address"]  # the same address, the same pseudonyms
    assert (details["address"]["country"], details["locale"]) == ("DE", "de")
    assert char_classes(details["last-name"]) == char_classes(USER["last-name"])
    assert verdicts(redacted) == verdicts(original)


def test_a_station_address_is_no_personal_data(station_post_request: dict[str, Any]) -> None:
    assert Pseudonyms("salt").message(station_post_request) == station_post_request


def test_a_code_equal_to_a_personal_value_stays() -> None:
    p = Pseudonyms("salt")
    p.message({"user-post-details": {"details": {"first-name": "DE"}}})
    status = {"connector-post-status": {"connector-id": "DE*8PS*E1", "status": "Available",
                                        "partner-identifier": "c0ffee00-1234-4abc-9def"}}
    assert p.message({"user-register": {"username": "Available"}}) != {"user-register": {"username": "Available"}}
    assert p.message(status) == status


# --- the same verdicts over many messages ------------------------------------------------------------------

REDACTED_CALLS = [
    ("session-start", "request"), ("session-stop", "request"), ("session-post", "request"),
    ("rfid-verify", "request"), ("rfid-verify", "response"), ("rfid-post", "request"),
    ("reservation-start", "request"), ("reservation-stop", "request"), ("user-post-details", "request"),
    ("user-get-details", "response"), ("user-register", "request"), ("user-change-password", "request"),
    ("user-get-charging-keys", "response"), ("fleet-post-members", "request"), ("fleet-post-cards", "request"),
    ("user-add-rfid", "request"),
]


def assert_judged_alike(message: Any, call: str, direction: str) -> None:
    p = Pseudonyms("property")
    redacted = p.message(message, call=call)
    for profile in ("strict", "lenient"):
        assert verdicts(redacted, call, direction, profile=profile) == verdicts(message, call, direction,
                                                                               profile=profile)
    text = json.dumps(redacted)
    # Keys, EVCO IDs and UIDs go wherever they stand; inside longer strings from 6 characters on (a real one
    # has 8 or more), so that a short value drawn for a broken message cannot rewrite a time or an id.
    left = [v for v, kind in p.originals().items() if kind != "other" and len(v) >= 6 and alone(v).search(text)]
    assert not left, f"originals left in {text}"


@pytest.mark.parametrize(("call", "direction"), REDACTED_CALLS)
@given(data=st.data())
def test_valid_messages_are_judged_alike(call: str, direction: str, data: st.DataObject) -> None:
    message = data.draw(messages(call, direction, profile="lenient"))
    assert_judged_alike(message, call, direction)


@pytest.mark.parametrize(("call", "direction"), REDACTED_CALLS)
@given(data=st.data())
def test_invalid_messages_are_judged_alike(call: str, direction: str, data: st.DataObject) -> None:
    broken = data.draw(invalid_messages(call, direction))
    note(f"breaks {broken.rule} at {broken.path}")
    assert_judged_alike(broken.message, call, direction)


def test_the_equivalence_check_can_fail() -> None:
    """A careless redaction (every UID one fixed value) is caught: the verdict changes."""
    original = {"rfid-verify": {"rfid": LOWER_UID}}
    assert verdicts({"rfid-verify": {"rfid": "00000000"}}) != verdicts(original)


# --- the command: oioi mock journal --redact -----------------------------------------------------------------


@pytest.fixture
def journal_db(tmp_path: Path, station_post_request: dict[str, Any]) -> Path:
    """A mock journal of real OIOI traffic: a wrong check digit, a lower-case UID, a user's details."""
    path = tmp_path / "ticket.sqlite3"
    store = Store(str(path))
    traffic = [
        ("rfid-verify", {"rfid-verify": {"rfid": UID}}, {"evco-id": GOOD_EVCO, "result": {"code": 0,
                                                                                           "message": "Success."}}),
        ("session-start", {"session-start": {"user": {"identifier-type": "evco-id", "identifier": WRONG_EVCO},
                                             "connector-id": "DE*8PS*E123456"}}, {"result": {"code": 0,
                                                                                              "message": "ok"}}),
        ("rfid-post", {"rfid-post": {"rfids": [LOWER_UID, UID, UID]}}, {"result": {"code": 0, "message": "ok"},
                                                                       "processed": 2}),
        ("user-post-details", user_post_details(), {"result": {"code": 0, "message": "ok"}}),
        ("station-post", station_post_request, {"result": {"code": 0, "message": "ok"}}),
        ("rfid-verify", '{"rfid-verify": {"rfid": "' + LOWER_UID + '"', {"result": {"code": 400, "message": "JSON"}}),
    ]
    with store.write() as db:
        for call, body, answer in traffic:
            findings: list[Finding] = validate(body) if isinstance(body, dict) else []
            store.record(db, {"exchange": "inbound", "call": call, "findings": findings,
                              "request_headers": {"Authorization": f"key={KEY}", "Content-Type": "application/json"},
                              "request_body": body if isinstance(body, str) else json.dumps(body),
                              "status": 200, "response_body": json.dumps(answer), "result_code": 0})
    store.close()
    return path


def export(db: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mock_server", "journal", "--db", str(db), *options],
                          capture_output=True, text=True, timeout=60, cwd=ROOT, check=False)


def judged(line: dict[str, Any]) -> list[tuple[str, str]]:
    body = line["body"]
    if isinstance(body, str):
        return [("not-json", "")]
    if line["direction"] == "request":
        return verdicts(body)
    return verdicts(body, line["call"], "response", status=line["status"])


def test_journal_redact_leaves_nothing_of_the_original_and_the_same_verdicts(journal_db: Path) -> None:
    plain, redacted = export(journal_db), export(journal_db, "--redact")
    assert (plain.returncode, redacted.returncode, redacted.stderr) == (0, 0, "")
    for original in (GOOD_EVCO, WRONG_EVCO, UID, LOWER_UID, *USER.values()):
        assert original in plain.stdout.encode().decode("unicode_escape"), original
        assert original not in redacted.stdout.encode().decode("unicode_escape"), original
    before = [json.loads(line) for line in plain.stdout.splitlines()]
    after = [json.loads(line) for line in redacted.stdout.splitlines()]
    assert len(after) == len(before) == 12
    assert [judged(line) for line in after] == [judged(line) for line in before]
    assert any(judged(line) for line in before)  # the ticket's traffic has findings, kept as they were
    assert after[0]["body"]["rfid-verify"]["rfid"] == after[4]["body"]["rfid-post"]["rfids"][1]


def test_journal_redact_json_has_the_whole_entries_redacted(journal_db: Path) -> None:
    done = export(journal_db, "--redact", "--format", "json", "--redact-salt", "ticket-1234")
    entries = json.loads(done.stdout)
    assert len(entries) == 6
    for secret in (WRONG_EVCO, LOWER_UID, UID, "*" + KEY[-4:], USER["email"]):
        assert secret not in done.stdout
    assert entries[0]["request_headers"]["Authorization"].startswith("key=*")
    pattern = [f for f in entries[2]["findings"] if f["rule"] == "schema/pattern"]
    assert pattern and f"Received: {entries[2]['request_body']['rfid-post']['rfids'][0]!r}" in pattern[0]["message"]
    assert export(journal_db, "--redact", "--format", "json", "--redact-salt", "ticket-1234").stdout == done.stdout
    assert export(journal_db, "--redact", "--format", "json").stdout != done.stdout


def test_a_salt_without_redact_is_one_sentence(journal_db: Path) -> None:
    done = export(journal_db, "--redact-salt", "x")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "--redact" in done.stderr and "Traceback" not in done.stderr


def test_a_capture_with_answer_headers_and_a_raw_whitelist_is_redacted() -> None:
    """A HAR capture carries the answer's headers too; a body that is not JSON still names its UIDs."""
    captured = entry(1, "rfid-post", '{"rfid-post": {"rfids": ["' + UID + '", "' + LOWER_UID + '"], ',
                     response_headers={"Set-Cookie": "session=5f1e0c2ab7d94e31; Path=/", "Server": "gunicorn"})
    out = Pseudonyms("salt").entry(captured)
    assert UID not in out["request_body"] and LOWER_UID not in out["request_body"]
    assert len(out["request_body"]) == len(captured["request_body"])
    assert "5f1e0c2ab7d94e31" not in out["response_headers"]["Set-Cookie"]
    assert out["response_headers"]["Server"] == "gunicorn"


@pytest.mark.slow
@pytest.mark.parametrize("direction", ["request", "response"])
@pytest.mark.parametrize("call", calls())
@given(data=st.data())
def test_every_call_is_judged_alike_redacted(call: str, direction: str, data: st.DataObject) -> None:
    message = data.draw(st.one_of(messages(call, direction, profile="lenient"),
                                  invalid_messages(call, direction).map(lambda broken: broken.message)))
    assert_judged_alike(message, call, direction)


def test_oioi_validate_says_the_same_of_the_redacted_export(journal_db: Path, tmp_path: Path) -> None:
    said = []
    for name, options in (("original.jsonl", ()), ("redacted.jsonl", ("--redact",))):
        exported = tmp_path / name
        exported.write_text(export(journal_db, *options).stdout, encoding="utf-8")
        done = subprocess.run([sys.executable, "-m", "oioi", "validate", str(exported)], capture_output=True,
                              text=True, timeout=60, cwd=ROOT, check=False)
        lines = done.stdout.replace(str(exported), "EXPORT").splitlines()
        said.append((done.returncode, [line for line in lines if not line.strip().startswith("Received:")]))
        assert (UID in done.stdout) == (name == "original.jsonl")
    assert said[0] == said[1]
    assert said[0][0] == 1 and any("schema/pattern" in line for line in said[0][1])


def test_an_answer_without_its_call_is_of_its_requests_call() -> None:
    details = {"user": {"first-name": USER["first-name"], "email": USER["email"], "evco-id": GOOD_EVCO},
               "result": {"code": 0, "message": "Success."}}
    captured = entry(1, None, {"user-get-details": {"user": {"identifier-type": "token", "identifier": "7c1d"}}},
                     details)
    text = json.dumps(Pseudonyms("salt").entry(captured), ensure_ascii=False)
    assert not [value for value in (USER["first-name"], USER["email"], GOOD_EVCO, "7c1d") if value in text]


def test_a_broken_identifier_type_is_no_trouble() -> None:
    broken = {"session-start": {"user": {"identifier-type": ["evco-id"], "identifier": WRONG_EVCO},
                                "connector-id": "1356"}}
    assert WRONG_EVCO not in json.dumps(Pseudonyms("salt").message(broken))
