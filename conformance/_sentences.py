"""Which sentence of the spec a finding rests on: the catalogue requirements that quote it.

`sentence_of` gives the requirement ids (the traffic report groups by them); `sentence` gives
the quote itself as plain data. `sentence` is the ``oioi.sentences`` entry point: the core asks
for it through `oioi.explain.sentence`, so that the mock's page (a layer below the catalogue)
shows the same sentence as the report without importing this package. Kept light: it imports
no pytest, so a mock's process can load it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from conformance._catalogue import requirement
from conformance._sent import IDENTIFIER_RULES, SEMANTIC
from oioi import Finding

__all__ = ["FIELD_REQUIREMENTS", "REQUEST_VALID", "RULE_REQUIREMENTS", "sentence", "sentence_of"]

REQUEST_VALID = "sender.request-valid"  # a request valid under its call's field descriptions

# Rules whose sentence a catalogue requirement quotes (conversation rules, and the semantic ones of _sent.py).
RULE_REQUIREMENTS: dict[str, tuple[str, ...]] = {
    **{rule: (req,) for rule, req in SEMANTIC.items()},
    "semantic/energy-not-negative": ("session-post.energy-plausible",),
    "conversation/status-for-posted-connector": ("connector-post-status.own-connectors",),
    "conversation/cdr-session-id-of-start": ("session-post.session-id-by-cpo",),
    "conversation/cdr-same-session-id": ("session-post.update-same-session",),
    "conversation/partner-identifier-consistent": ("identifiers.partner-identifier-consistent",),
    "conversation/retry-after-honoured": ("sender.retry-5xx",),
}
# Fields whose format rule the catalogue quotes, by the last part of the finding's path.
FIELD_REQUIREMENTS: dict[str, tuple[str, ...]] = {
    "rfid": ("rfid.uid-format", "rfid.uid-upper-case"),
    "uid": ("rfid.uid-format", "rfid.uid-upper-case"),
    "connector-id": (IDENTIFIER_RULES["evse-id"],),
    "evco-id": (IDENTIFIER_RULES["evco-id"],),
    "partner-identifier": (IDENTIFIER_RULES["partner-identifier"],),
}
FORMAT_RULES = ("schema/pattern", "schema/minLength", "schema/maxLength")


def sentence_of(finding: Finding, call: str | None) -> tuple[str, ...]:
    """The catalogue requirements whose quoted sentence the finding's rule rests on (none when not known)."""
    if finding.rule in RULE_REQUIREMENTS:
        return RULE_REQUIREMENTS[finding.rule]
    field = finding.path.rsplit("/", 1)[-1]
    if finding.rule in FORMAT_RULES and field in FIELD_REQUIREMENTS:
        return FIELD_REQUIREMENTS[field]
    name = finding.rule.split("/", 1)[-1]
    for candidate in (f"{call}.{name}", name):
        try:
            requirement(candidate)
        except KeyError:
            continue
        return (candidate,)
    return ()


def sentence(finding: Mapping[str, Any], call: str | None) -> dict[str, Any] | None:
    """The spec sentence a finding (a journal finding's dict) rests on, as the catalogue quotes it; None when not known.

    ``{"quote": …, "file": …, "requirements": [ids]}``: the quotes of every requirement it rests on, joined.
    A schema rule of a request (its path starts with the call's name) that no requirement quotes rests on
    the field descriptions of the call's spec file, which `sender.request-valid` stands for.
    """
    known = Finding(finding.get("severity", "error"), str(finding.get("path", "")), str(finding.get("rule", "")),
                    str(finding.get("message", "")), str(finding.get("spec", "")))
    ids = sentence_of(known, call)
    if not ids and known.rule.startswith("schema/") and call and known.path.startswith(f"/{call}"):
        ids = (REQUEST_VALID,)
    quotes = [requirement(i)["spec"] for i in ids]
    if not quotes:
        return None
    return {"quote": " ".join(q.get("quote", "") for q in quotes), "file": quotes[0].get("file"),
            "requirements": list(ids)}
