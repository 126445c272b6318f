"""The IUT's declaration (``oioi certify --declaration``, ``--write-declaration``): PICS and PIXIT in one TOML file."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from conformance import _declaration as declaration
from conformance._catalogue import requirements
from oioi_cli import run
from tests.fixtures.references import REFERENCE_KEY

ROOT = Path(__file__).resolve().parent.parent
API_KEY = REFERENCE_KEY  # the key the reference CPO accepts


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = run(list(argv), out, err)
    return status, out.getvalue(), err.getvalue()


def _one_sentence(err: str) -> None:
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err


def test_template_parses_and_round_trips(tmp_path: Path) -> None:
    """The written template is TOML, loads without a fault, and renders back to the same text."""
    path = tmp_path / "iut.toml"
    status, out, err = _run("certify", "--write-declaration", str(path))
    assert (status, err) == (0, "") and str(path) in out
    text = path.read_text(encoding="utf-8")
    assert set(tomllib.loads(text)) == {"iut", "features", "rfid", "parameters"}
    values = declaration.load(str(path))
    assert values["role"] == "cpo" and values["url"].endswith("/api/v4/request")
    assert declaration.render(declaration.sections(values)) == text
    assert _run("certify", "--write-declaration", "-") == (0, text, "")


def test_template_takes_the_flags_given() -> None:
    status, out, _ = _run("certify", "emp", "--url", "http://127.0.0.1:8123/api/v4/request", "--rfid",
                          "active=0A1B2C3D", "--wait", "4", "--write-declaration", "-")
    written = tomllib.loads(out)
    assert status == 0 and written["iut"]["role"] == "emp"
    assert written["iut"]["url"] == "http://127.0.0.1:8123/api/v4/request"
    assert written["rfid"] == {"active": "0A1B2C3D", "inactive": "0477BD22AA4880", "unknown": "0477BD22AA4AAA"}
    assert written["parameters"]["wait"] == 4.0


def test_template_never_overwrites_a_declaration(tmp_path: Path) -> None:
    path = tmp_path / "iut.toml"
    path.write_text("[iut]\nrole = \"emp\"\n", encoding="utf-8")
    status, _, err = _run("certify", "--write-declaration", str(path))
    assert status == 2 and "exists already" in err
    _one_sentence(err)
    assert path.read_text(encoding="utf-8") == "[iut]\nrole = \"emp\"\n"


def test_features_not_implemented_are_not_applicable_in_a_run(reference_cpo: str, tmp_path: Path) -> None:
    """A declaration with reservations = false: every reservation requirement is not-applicable, its checks
    deselected, while the other requirements selected are judged."""
    file = tmp_path / "iut.toml"
    file.write_text(f'[iut]\nrole = "cpo"\nurl = "{reference_cpo}"\n'
                    'connector-id = ["DE*REF*E000001*1", "DE*REF*E000001*2"]\n'
                    "[features]\nreservations = false\n[parameters]\nseed = 3\nwait = 1\n", encoding="utf-8")
    reports = tmp_path / "reports"
    command = [sys.executable, "-m", "oioi_cli", "certify", "--declaration", str(file), "--report-dir", str(reports),
               "--requirement", "reservation-start.success", "--requirement", "reservation-stop.unknown",
               "--requirement", "session-stop.unknown-session"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT,
                          env={**os.environ, "OIOI_API_KEY": API_KEY})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    report = json.loads((reports / "report.json").read_text(encoding="utf-8"))
    rows = {row["id"]: row for row in report["requirements"]}
    reservations = [r["id"] for r in requirements() if r.get("feature") == "reservations" and "cpo" in r["roles"]]
    assert reservations
    for rid in reservations:
        assert rows[rid]["verdict"] == "not-applicable", rid
        assert "declaration" in rows[rid]["reason"] and "reservations" in rows[rid]["reason"], rows[rid]
        assert rows[rid]["checks"] == []
    assert rows["session-stop.unknown-session"]["verdict"] == "pass"
    assert report["declaration"]["file"] == str(file)
    assert report["declaration"]["features"]["reservations"] is False
    assert report["declaration"]["iut"]["api-key"].endswith("6789") and API_KEY not in json.dumps(report)
    junit = (reports / "junit.xml").read_text(encoding="utf-8")
    assert "reservation" not in junit.lower(), "a check of a feature not implemented ran"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[features]\nreservation = false\n", "did you mean 'reservations'?"),
        ("[parameter]\ntimeout = 3\n", "did you mean [parameters]?"),
        ("[iut]\ntimeout = 3\n", "'timeout' belongs in [parameters]"),
        ("[rfid]\nactiv = \"0A1B2C3D\"\n", "did you mean 'active'?"),
    ],
)
def test_a_misspelt_key_gets_did_you_mean(tmp_path: Path, text: str, message: str) -> None:
    file = tmp_path / "iut.toml"
    file.write_text(text, encoding="utf-8")
    status, _, err = _run("certify", "cpo", "--url", "http://127.0.0.1:9/api/v4/request", "--api-key", "k",
                          "--declaration", str(file))
    assert status == 2 and message in err, err
    _one_sentence(err)


def test_flags_override_the_environment_which_overrides_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    file = tmp_path / "iut.toml"
    file.write_text('[iut]\nurl = "http://127.0.0.1:9/from-the-file"\nconnector-id = ["DE*ABC*E0001*1"]\n'
                    "[parameters]\ntimeout = 3\nwait = 4\nprofile = \"full\"\n[rfid]\nactive = \"0A1B2C3D\"\n",
                    encoding="utf-8")
    monkeypatch.setenv("OIOI_TIMEOUT", "5")
    monkeypatch.setenv("OIOI_WAIT", "6")
    values = declaration.settings(str(file), os.environ, {"timeout": 7.0, "wait": None, "connectors": (),
                                                          "rfids": {"inactive": "0B1B2C3D"}})
    assert (values["timeout"], values["wait"], values["profile"]) == (7.0, 6.0, "full")
    assert values["connectors"] == ("DE*ABC*E0001*1",)
    assert values["rfids"] == {"active": "0A1B2C3D", "inactive": "0B1B2C3D", "unknown": "0477BD22AA4AAA"}
    # Through the command line: the URL each level gives, seen in the one-sentence refusal of a bad one.
    monkeypatch.setenv("OIOI_API_KEY", API_KEY)
    status, _, err = _run("certify", "cpo", "--declaration", str(file), "--url", "ftp://from-the-flag")
    assert status == 2 and "'ftp://from-the-flag' is not an http(s) URL" in err, err
    monkeypatch.setenv("OIOI_URL", "ftp://from-the-environment")
    status, _, err = _run("certify", "cpo", "--declaration", str(file))
    assert status == 2 and "'ftp://from-the-environment' is not an http(s) URL" in err, err
    monkeypatch.delenv("OIOI_URL")
    status, _, err = _run("certify", "cpo", "--declaration", str(file))
    assert status == 2 and "Cannot reach the IUT at http://127.0.0.1:9/from-the-file" in err, err


@pytest.mark.parametrize("key", ["api-key", "partner-api-key", "api_key"])
def test_an_api_key_in_the_file_is_refused(tmp_path: Path, key: str) -> None:
    file = tmp_path / "iut.toml"
    file.write_text(f'[iut]\nrole = "cpo"\n{key} = "declared-secret-value-0001"\n', encoding="utf-8")
    status, _, err = _run("certify", "--declaration", str(file), "--url", "http://127.0.0.1:9/api/v4/request")
    assert status == 2 and "API keys never go in the declaration" in err, err
    assert "declared-secret-value-0001" not in err
    _one_sentence(err)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[iut]\nrole = \"cpo\"\nurl = \n", "is not valid TOML: Invalid value (at line 3, column 7)"),
        ("[parameters]\ntimeout = \"ten\"\n", "[parameters] timeout in the declaration"),
        ("[features]\nreservations = \"no\"\n", "must be true or false, not 'no'"),
        ("[iut]\nconnector-id = \"DE*ABC*E0001*1\"\n", "must be a list of strings"),
        ("iut = 3\n", "iut must be a table"),
        (None, "Cannot read the declaration"),
    ],
)
def test_a_fault_in_the_file_is_one_sentence_and_status_2(tmp_path: Path, text: str | None, message: str) -> None:
    file = tmp_path / "iut.toml"
    if text is not None:
        file.write_text(text, encoding="utf-8")
    status, _, err = _run("certify", "cpo", "--url", "http://127.0.0.1:9/api/v4/request", "--api-key", "k",
                          "--declaration", str(file))
    assert status == 2 and message in err, err
    _one_sentence(err)


def test_without_a_url_anywhere_one_sentence_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OIOI_URL", raising=False)
    file = tmp_path / "iut.toml"
    file.write_text('[iut]\nrole = "emp"\n', encoding="utf-8")
    status, _, err = _run("certify", "--declaration", str(file), "--api-key", "k")
    assert status == 2 and err.startswith("No URL: give --url") and "declaration" in err, err
    _one_sentence(err)
