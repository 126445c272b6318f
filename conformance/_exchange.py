"""One HTTP exchange with the implementation under test, kept as evidence.

The client records every request it sends and what came back (or that nothing came
back), with the API key masked, so that a failed check can show the exact exchange and a
``curl`` command that repeats it.
"""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any

import requests

from oioi import mask, validate
from oioi.capture import curl_command, is_utf8
from oioi.errors import HarnessError

__all__ = ["Exchange", "Iut", "is_utf8"]


def _text(raw: bytes | None) -> str | None:
    return None if raw is None else raw.decode("utf-8", errors="backslashreplace")


@dataclasses.dataclass
class Exchange:
    """A request sent to the IUT and its answer (``status`` None when no answer came)."""

    url: str
    request_headers: dict[str, str]
    request_body: bytes
    status: int | None = None
    response_headers: dict[str, str] = dataclasses.field(default_factory=dict)
    response_body: bytes | None = None
    elapsed_ms: float | None = None
    error: str | None = None

    def json(self) -> Any:
        """The answer's body as JSON, or None when it is not JSON (or not UTF-8)."""
        if self.response_body is None:
            return None
        try:
            return json.loads(self.response_body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            return None

    def result_code(self) -> Any:
        """``result.code`` of the answer, as received (None when there is none)."""
        body = self.json()
        result = body.get("result") if isinstance(body, dict) else None
        return result.get("code") if isinstance(result, dict) else None

    def to_dict(self) -> dict[str, Any]:
        """The exchange for report.json: request and response (None when no answer came)."""
        response = None
        if self.status is not None:
            response = {
                "status": self.status,
                "headers": self.response_headers,
                "body": _text(self.response_body),
                "elapsed_ms": self.elapsed_ms,
            }
        return {
            "request": {"method": "POST", "url": self.url, "headers": self.request_headers,
                        "body": _text(self.request_body)},
            "response": response,
            "error": self.error,
            "curl": self.curl(),
        }

    def curl(self) -> str:
        """A shell command that sends the same request; the key is read from ``$OIOI_API_KEY``."""
        return curl_command(self.url, self.request_headers, self.request_body)


class Iut:
    """The implementation under test: one OIOI endpoint, one API key, every exchange recorded."""

    def __init__(self, url: str, api_key: str, *, timeout: float = 10.0) -> None:
        self.url, self.api_key, self.timeout = url, api_key, timeout
        self.session = requests.Session()
        self.exchanges: list[Exchange] = []

    def send(self, message: dict[str, Any]) -> Exchange:
        """Send a valid request; a message our own validator refuses is a harness bug, never sent."""
        errors = [f for f in validate(message, direction="request") if f.severity == "error"]
        if errors:
            raise HarnessError(
                f"The harness built an invalid {next(iter(message), '?')} request ({errors[0].path}: "
                f"{errors[0].message}); this is a bug in the harness, please report it."
            )
        return self.post(json.dumps(message).encode())

    def post(self, body: bytes, headers: dict[str, str] | None = None) -> Exchange:
        """POST raw bytes with the given headers (default: JSON and the right key)."""
        if headers is None:
            headers = {"Content-Type": "application/json", "Authorization": f"key={self.api_key}"}
        shown = {name: self._masked(value) for name, value in headers.items()}
        exchange = Exchange(url=self.url, request_headers=shown, request_body=body)
        self.exchanges.append(exchange)
        started = time.perf_counter()
        try:
            response = self.session.post(self.url, data=body, headers=headers, timeout=self.timeout)
        except requests.Timeout:
            exchange.error = f"no answer within {self.timeout:g} s"
            self.session = requests.Session()
            return exchange
        except requests.RequestException as failure:
            exchange.error = f"no answer: {type(failure).__name__}: {_short(failure)}"
            self.session = requests.Session()
            return exchange
        exchange.elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
        exchange.status = response.status_code
        exchange.response_headers = dict(response.headers)
        exchange.response_body = response.content
        return exchange

    def _masked(self, value: str) -> str:
        return value.replace(self.api_key, mask(self.api_key)) if self.api_key else value

    def close(self) -> None:
        self.session.close()


def _short(failure: Exception) -> str:
    text = str(failure)
    return text if len(text) < 200 else text[:200] + "…"
