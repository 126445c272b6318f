"""``oioi regress``: a standalone pytest file that sends captured requests and asserts what the spec requires.

The file imports only the installed ``oioi-conformance`` distribution: the pytest plugin (loaded by
its ``pytest11`` entry point) gives ``--oioi-url``, ``--oioi-role``, ``--oioi-api-key`` and the
``iut`` fixture (a client of the endpoint that keeps every exchange as evidence). One test per
captured exchange, in the capture's order, each with its request inline as a Python literal. Each
asserts with the suite's own checks, never a judgment of its own:

- `conformance.checks.answer_conforms`: an answer came; HTTP 200 with a body valid under the call's
  response schema, or a 4xx refusal with a JSON ``result`` and no success code (request.rst: "If the
  request was valid and successful … Otherwise, the HTTP response code will not be 200"; a 5xx fails);
- `conformance.checks.result_code_allowed_for_call`: a result code of request.rst's table.

Inside `conformance.traffic.only_must_fails`: a failed MUST fails the test, a failed SHOULD (our reading of
the spec, transport.error-answer-json) marks it xfail, as ``oioi replay`` never calls it broken.

An id the endpoint made in an earlier answer (a session-id) is replaced in later requests by the one
it gives in the run, as ``oioi replay`` does; an exchange whose answer gave such an id is added to
the file when a chosen one names it (`conformance._replay.with_givers`).
"""

from __future__ import annotations

import pprint
import re
import textwrap
from collections.abc import Sequence
from typing import Any

from conformance._catalogue import requirement
from conformance._replay import Answer, captured_exchange, content_type, given_ids, role_of, with_givers
from oioi.errors import ConfigError

__all__ = ["source"]

HEADER = '''"""Regression test written by `oioi regress` from the capture {capture}, exchanges {ids}.

Each test sends one captured request to the OIOI endpoint given with --oioi-url, in the capture's order,
and asserts what OIOI 4.19 requires of the answer: an answer; HTTP 200 with a body valid under the
call's response schema, or a 4xx refusal with a JSON result and no success code (request.rst); a result
code of request.rst's table (conformance.checks). A failed MUST fails the test; a failed SHOULD (our
reading: a 4xx body with a JSON result) is an xfail. An id the endpoint gave in an earlier answer of this
file (a session-id) replaces the captured one in later requests. Run it, with oioi-conformance[certify]:

    pytest {filename} --oioi-url URL --oioi-role {role} --oioi-api-key KEY
"""

from __future__ import annotations

import pytest

from conformance import checks
from conformance.traffic import only_must_fails, send_captured

GIVEN: dict[str, str] = {{}}  # captured id -> the id the endpoint gave in this run (filled by send_captured)
'''

TEST = '''

@pytest.mark.requirement({requirement!r})
def test_exchange_{name}(iut):
    """Capture {capture}, exchange #{id}: {call}; the captured answer was {captured}."""
    request = {literal}
    exchange = send_captured(iut, request, GIVEN{options})
    with only_must_fails():
        checks.answer_conforms(exchange, {call!r})
        checks.result_code_allowed_for_call(exchange, {call!r})
'''


def _literal(body: Any, column: int) -> str:
    """``body`` as a Python literal that starts at ``column``, its lines aligned under its brackets."""
    text = pprint.pformat(body, width=max(40, 110 - column), sort_dicts=False)
    return textwrap.indent(text, " " * column).lstrip()


def _test(entry: dict[str, Any], capture: str) -> str:
    call = str(entry["call"])
    try:
        requirement(f"{call}.answer")
    except KeyError:
        raise ConfigError(f"Exchange #{entry.get('id')} is a {call}, a call the conformance suite does not judge the "
                          "answers of (no requirement in conformance/requirements.json); leave it out.") from None
    gives = given_ids(entry)
    indent = "\n" + " " * len("    exchange = send_captured(")
    options = (f",{indent}gives={_literal(gives, len(indent) + 5)}" if gives else "") + (
        f",{indent}content_type={content_type(entry)!r}" if content_type(entry) != "application/json" else "")
    name = re.sub(r"\W", "_", f"{entry.get('id')}_{call}")
    return TEST.format(requirement=f"{call}.answer", name=name, capture=_safe(capture), id=entry.get("id"),
                       call=call, captured=Answer.of(captured_exchange(entry), call).describe(),
                       literal=_literal(entry.get("request_body"), len("    request = ")), options=options)


def _safe(text: str) -> str:
    return text.replace('"""', "'''").replace("\\", "/")


def source(everything: Sequence[dict[str, Any]], chosen: Sequence[dict[str, Any]], capture: str,
           filename: str = "test_ticket.py") -> tuple[str, list[tuple[Any, str]]]:
    """The test file's text for the ``chosen`` entries of a capture (``everything``), and the exchanges added."""
    entries, added = with_givers(everything, chosen)
    head = HEADER.format(capture=_safe(capture), ids=", ".join(f"#{e.get('id')}" for e in entries),
                         filename=filename, role=role_of(chosen))
    return head + "".join(_test(e, capture) for e in entries), added
