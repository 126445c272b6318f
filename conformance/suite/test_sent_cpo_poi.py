"""What a CPO sends about its stations and their statuses, as the mock EMP received it (cpo/poi.rst).

The first of the sending modules (`_sending`): the checks after it read the stations posted here.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from conformance._failures import Inconclusive, Nonconformance
from conformance._partner import Control, Partner
from conformance._sent import as_exchange, body, raised, violated
from conformance._target import Target
from conformance.suite._sending import (
    CHANGED_STATUS,
    act,
    cpo_connectors,
    expect,
    expect_arrival,
    posts_status,
    settled,
    tell_received,
    window,
)
from oioi import conversation

pytestmark = pytest.mark.role("cpo")


def _push_stations(target: Target, partner: Partner, control: Control) -> list[dict[str, Any]]:
    """The station-posts of one full push the check asked for (judged by `expect` when none came)."""
    since = settled(partner)
    answer = act(control, "push-stations", "Make the CPO push all its stations (station-post)")
    control.say(f"waiting up to {window(target):g} s for station-post ...")
    posts = [e for e in partner.quiet(since, window(target)) if e["call"] == "station-post"]
    tell_received(control, posts, "nothing arrived")
    return expect(posts, target, call="station-post", requirement="station-post.connector-id-unique", answer=answer,
                  action="push-stations", what="a station-post for each station")


def _stations(posts: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(station, entry) of each station-post: one station object each (calls/station_post.rst)."""
    stations = []
    for entry in posts:
        station = body(entry).get("station")
        if not isinstance(station, dict):
            raise Nonconformance(requirement="station-post.one-station-per-request",
                                 received=f"station {station!r:.160}",
                                 expected="one station object per station-post ('You have to send one request "
                                          "for each station.')", exchange=as_exchange(entry))
        stations.append((station, entry))
    return stations


def _connector_ids(station: dict[str, Any]) -> list[Any]:
    return [c.get("id") if isinstance(c, dict) else c for c in station.get("connectors") or []]


def _by_id(station: dict[str, Any]) -> dict[str, Any]:
    """A station's connectors by their id (as JSON text, so that any value is a key), whatever their order."""
    return {json.dumps(connector_id): connector for connector_id, connector
            in zip(_connector_ids(station), station.get("connectors") or [], strict=True)}


def _one_station_per_id(push: list[tuple[dict[str, Any], dict[str, Any]]]) -> dict[Any, dict[str, Any]]:
    """Each station of one full push by its id; a failure when one id names two different stations."""
    pushed: dict[Any, dict[str, Any]] = {}
    for station, entry in push:
        earlier = pushed.setdefault(station.get("id"), station)
        if earlier is not station and earlier != station:
            raise Nonconformance(requirement="station-post.station-id-unique",
                                 received=f"two different stations with id {station.get('id')!r} in one push "
                                          f"(connectors {_connector_ids(earlier)} and {_connector_ids(station)})",
                                 expected="a station id that names one station only", exchange=as_exchange(entry))
    return pushed


def _each_connector_in_one_station(push: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
    owner: dict[Any, Any] = {}
    for station, entry in push:
        for connector in _connector_ids(station):
            held_by = owner.setdefault(connector, station.get("id"))
            if held_by != station.get("id"):
                raise Nonconformance(requirement="station-post.connector-id-unique",
                                     received=f"connector {connector!r} in stations {held_by!r} and "
                                              f"{station.get('id')!r}",
                                     expected="every connector id in one station only", exchange=as_exchange(entry))


def _connectors_unchanged(before: dict[str, Any], station: dict[str, Any], entry: dict[str, Any]) -> None:
    """calls/station_post.rst: "It is not allowed to change the connectors" (in any order: the spec gives none)."""
    if _by_id(before) == _by_id(station):
        return
    ids_changed = set(_by_id(before)) != set(_by_id(station))
    raise Nonconformance(
        requirement="station-post.connector-ids-unchanged" if ids_changed else "station-post.connectors-unchanged",
        received=f"station {station.get('id')!r} posted again with connectors "
                 + (f"{_connector_ids(station)}" if ids_changed else f"{station.get('connectors')!r:.200}"),
        expected="the connectors it was posted with: "
                 + (f"{_connector_ids(before)}" if ids_changed else f"{before.get('connectors')!r:.200}")
                 + " (calls/station_post.rst: 'It is not allowed to change the connectors')",
        exchange=as_exchange(entry))


@pytest.mark.requirement("station-post.one-station-per-request", "station-post.station-id-unique",
                         "station-post.connector-id-unique", "station-post.connector-ids-unchanged",
                         "station-post.connectors-unchanged")
def test_cpo_pushes_its_stations(target: Target, partner: Partner, control: Control) -> None:
    first = _stations(_push_stations(target, partner, control))
    pushed = _one_station_per_id(first)  # one full push: each id one station, each connector in one station
    _each_connector_in_one_station(first)
    for station, entry in _stations(_push_stations(target, partner, control)):  # a second full push: no change
        before = pushed.get(station.get("id"))
        if before is not None:
            _connectors_unchanged(before, station, entry)


@pytest.mark.requirement("station-post.all-stations")
def test_cpo_pushes_every_station(target: Target, partner: Partner, control: Control) -> None:
    """Every connector the operator declared (--connector-id) arrives in a station-post."""
    if not target.connectors:
        pytest.skip("which stations the CPO has is known only from --connector-id: give each of its connectors")
    posts = partner.received("station-post") or _push_stations(target, partner, control)
    missing = _not_posted(target, posts)
    if missing:  # a push paced slower than the check's quiet second may still be under way: wait for the rest
        control.say(f"waiting up to {window(target):g} s for station-posts of {missing} ...")
        partner.wait_for("station-post", 0, window(target), count=len(posts) + len(missing))
        posts = partner.received("station-post")
        missing = _not_posted(target, posts)
    if not missing:
        return
    posted = sorted({str(c) for station, _ in _stations(posts) for c in _connector_ids(station)})
    received = f"station-posts for connectors {posted}, none within {window(target):g} s for {missing}"
    if target.delivery_window is None:  # cpo/poi.rst gives the push no time
        raise Inconclusive("station-post.all-stations", f"{received}; the spec gives the push no time: declare "
                           "--delivery-window to make this a verdict")
    raise Nonconformance(requirement="station-post.all-stations", received=received,
                         expected=f"a station-post for every station, also those of {missing}, within the IUT's "
                                  f"declared --delivery-window of {target.delivery_window:g} s",
                         exchange=as_exchange(posts[-1]))


def _not_posted(target: Target, posts: list[dict[str, Any]]) -> list[str]:
    """The declared connectors (--connector-id) that no station-post of ``posts`` holds."""
    posted = {c for station, _ in _stations(posts) for c in _connector_ids(station)}
    return [c for c in target.connectors if c not in posted]


@pytest.mark.requirement("connector-post-status.on-change", "connector-post-status.own-connectors")
def test_cpo_pushes_status_changes_of_posted_connectors(target: Target, partner: Partner, control: Control) -> None:
    """cpo/poi.rst: "When the status of a connector changes, the CPO must send a connector-post-status request
    to push the change." Each connector (Available, as every check leaves it) is set Offline: a change, so a
    status must follow; it is set back to Available in the end (that change is awaited, not judged).
    """
    stations = partner.received("station-post")  # the conversation's rule decides (oioi.conversation)
    for connector in cpo_connectors(target, partner):
        entry = _status_change(target, partner, control, connector=connector)
        violated(raised(stations, entry, conversation.STATUS_RULE), "connector-post-status.own-connectors",
                 entry=entry)


def _status_change(target: Target, partner: Partner, control: Control, *, connector: str) -> dict[str, Any]:
    """The connector-post-status after ``connector`` was set Offline; set back to Available in the end."""
    since, by_person = settled(partner), False
    try:
        answer = act(control, "set-status", f"Make connector {connector} {CHANGED_STATUS}",
                     **{"connector-id": connector, "status": CHANGED_STATUS})
        by_person = control.by_person
        return expect_arrival(partner, control, target, call="connector-post-status", since=since,
                              requirement="connector-post-status.on-change", answer=answer, action="set-status",
                              what=f"a connector-post-status for {connector}, now {CHANGED_STATUS}",
                              match=posts_status(CHANGED_STATUS, connector=connector))[0]
    finally:
        back = settled(partner)
        if control.undo("set-status", f"Set connector {connector} back to Available", by_person=by_person,
                        **{"connector-id": connector, "status": "Available"}):
            partner.wait_for("connector-post-status", back, window(target),
                             match=posts_status("Available", connector=connector))
