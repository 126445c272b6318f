"""Everything the IUT sent in the run is well-formed (request.rst: headers, UTF-8, one JSON call; glossary.rst).

The last of the sending modules (`_sending`): its name sorts after theirs, so it judges every message
the IUT sent to the mock partner in the run, theirs included.
"""

from __future__ import annotations

import json

import pytest

from conformance._partner import Control, NotDone, Partner
from conformance._sent import (
    authenticated,
    for_the_partners_role,
    identifiers,
    json_content_type,
    one_call,
    utf8,
    valid_request,
)
from conformance._target import Target
from conformance.suite._sending import CHANGED_STATUS, act, posts_status, settled, station_connectors, window


@pytest.mark.requirement("sender.authorization-header", "sender.content-type", "sender.utf-8",
                         "sender.request-valid", "session-post.intervals-consistent", "sender.role-calls",
                         "sender.post-json", "identifiers.evse-id-format", "identifiers.evco-id-format",
                         "identifiers.partner-identifier-length")
def test_everything_sent_is_well_formed(target: Target, partner: Partner, control: Control) -> None:
    """Every message the IUT sent in the run. A CPO that sent no status yet is made to send one: a station-post's
    partner identifier may take the form of the call's example ("1", an erratum), a status's may not.
    """
    action = "push-stations" if target.role == "cpo" else "push-rfids"
    act(control, action, "Make the IUT send a message to its partner")
    settled(partner)
    if target.role == "cpo" and not partner.received("connector-post-status"):
        _a_status_change(target, partner, control)
    entries = partner.received()
    if not entries:
        pytest.skip("the IUT sent nothing to the mock partner in this run")
    for entry in entries:
        authenticated(entry)
        for_the_partners_role(entry)
        json_content_type(entry)
        utf8(entry)
        one_call(entry)
        identifiers(entry)
        valid_request(entry)
    assert json.dumps(entries)  # the evidence is serialisable


def _a_status_change(target: Target, partner: Partner, control: Control) -> None:
    """A CPO's connector set Offline and back to Available, for the statuses it sends (nothing judged here)."""
    connectors = list(target.connectors) or station_connectors(partner)
    if not connectors:
        return
    fields = {"connector-id": connectors[0]}
    since = settled(partner)
    try:
        if control.act("set-status", f"Make connector {connectors[0]} {CHANGED_STATUS}",
                       **fields, status=CHANGED_STATUS) is None:
            return
    except NotDone:
        return
    by_person = control.by_person
    try:
        partner.wait_for("connector-post-status", since, window(target),
                         match=posts_status(CHANGED_STATUS, connector=connectors[0]))
    finally:
        control.undo("set-status", f"Set connector {connectors[0]} back to Available", by_person=by_person,
                     **fields, status="Available")
        settled(partner)
