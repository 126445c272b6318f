"""The requirement catalogue (``conformance/requirements.json``): one loader, read once.

The catalogue holds requirements only. What the protocol says about a call — the role that
receives it, the result codes its spec file lists — is read from the schemas: `receiver` and
`allowed_codes` here are `oioi.receiver` and `oioi.result_codes`, under the names the suite uses.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

from oioi import receiver, result_codes

__all__ = ["AREAS", "FEATURES", "allowed_codes", "calls", "catalogue", "receiver", "requirement", "requirements"]

AREAS = ("transport", "remote-start", "reservation", "rfid", "poi", "cdr", "identifiers")
# Optional parts of OIOI an IUT may leave out (ISO/IEC 9646: the PICS of its declaration). A
# requirement that belongs to one names it as ``feature``; it is not-applicable when the
# declaration says the feature is not implemented.
FEATURES: dict[str, str] = {
    "remote-stop": "session-stop: stopping a remotely started session (cpo/remote_start.rst)",
    "reservations": "reservation-start and reservation-stop (cpo/reservation.rst)",
    "offline-whitelist": "rfid-post: offline authorization from a whitelist (cpo/rfid_start.rst)",
    "online-rfid-authorization": "rfid-verify: online authorization of RFID tokens (cpo/rfid_start.rst)",
    "cdr-updates": "session-post while a session runs, updated by the final CDR (cpo/cdr.rst)",
}


@functools.cache
def catalogue() -> dict[str, Any]:
    """The whole catalogue: ``spec`` (name and version) and ``requirements``."""
    text = resources.files("conformance").joinpath("requirements.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def requirements() -> list[dict[str, Any]]:
    """Every requirement, in catalogue order."""
    return list(catalogue()["requirements"])


@functools.cache
def _by_id() -> dict[str, dict[str, Any]]:
    return {entry["id"]: entry for entry in requirements()}


def requirement(requirement_id: str) -> dict[str, Any]:
    """One requirement by id (KeyError for an id the catalogue does not have)."""
    return _by_id()[requirement_id]


def calls() -> tuple[str, ...]:
    """The calls the catalogue has requirements for (the ones the suite sends or receives), in catalogue order."""
    return tuple(dict.fromkeys(entry["call"] for entry in requirements() if entry["call"] is not None))


allowed_codes = result_codes  # the result codes the call's spec file lists (x-result-codes)
