"""What a run certifies: the IUT's endpoint, its role and the values agreed with its operator."""

from __future__ import annotations

import dataclasses
import random
import socket
from typing import Any
from urllib.parse import urlsplit

from hypothesis import HealthCheck, Phase, settings

from oioi import mask
from oioi.errors import ConfigError

__all__ = ["DEFAULT_PARTNER_IDENTIFIERS", "PROFILES", "ROLES", "STAGING_RFIDS", "Target", "parse_rfids"]

ROLES = ("cpo", "emp")
# Hypothesis effort per profile: draws per property check, state machines and their steps, and
# whether a failing example is shrunk to a minimal one (every shrinking step is a request to the
# IUT: quick reports the first failing example as found).
PROFILES: dict[str, dict[str, int]] = {
    "quick": {"examples": 12, "machines": 50, "steps": 10, "shrink": 0},
    "full": {"examples": 200, "machines": 100, "steps": 30, "shrink": 1},
}
# testaccount.rst, "UIDs to test RFID".
STAGING_RFIDS = {"active": "04523022AA4881", "inactive": "0477BD22AA4880", "unknown": "0477BD22AA4AAA"}
DEFAULT_PARTNER_IDENTIFIERS = ("oioi-harness-partner-0001", "oioi-harness-partner-0002")


@dataclasses.dataclass(frozen=True)
class Target:
    """The implementation under test and the options of the run (validated on construction)."""

    url: str
    role: str
    api_key: str
    connectors: tuple[str, ...] = ()
    partner_identifiers: tuple[str, ...] = DEFAULT_PARTNER_IDENTIFIERS
    rfids: dict[str, str] = dataclasses.field(default_factory=lambda: dict(STAGING_RFIDS))
    profile: str = "quick"
    seed: int = dataclasses.field(default_factory=lambda: random.randrange(2**32))
    timeout: float = 10.0
    only: tuple[str, ...] = ()
    listen: str | None = None  # HOST:PORT where the mock partner receives what the IUT sends
    partner_api_key: str | None = None  # the key the IUT must send to the mock partner
    control_url: str | None = None  # the IUT's test-control hook
    wait: float = 10.0  # seconds to wait for the IUT's own messages
    strict: bool = False  # a failed SHOULD fails the run too
    # Catalogue features (``feature`` of a requirement) the IUT's declaration says it does not
    # implement: their requirements are not-applicable.
    not_implemented: frozenset[str] = frozenset()
    # What the IUT declares about its own sending (PIXIT): the seconds its client waits for an
    # answer before it gives up, and the seconds within which it retries after a 5xx. Unknown
    # (None): a check that needs the figure to decide says inconclusive instead of fail.
    partner_timeout: float | None = None
    retry_window: float | None = None
    # Seconds within which the IUT sends what an event calls for (a status after a change, a CDR after a
    # session), as it declares it. Unknown (None): nothing arrived within --wait is inconclusive, since
    # no sentence of the spec gives a time (a CPO may send its CDRs in batches).
    delivery_window: float | None = None
    # How much shorter than the one before a gap between retries may be (jitter), as a fraction.
    backoff_tolerance: float | None = None  # undeclared: read from the waits (conformance._sent.jitter_tolerance)
    # Set by the preflight, never by the user: the given connectors the CPO IUT answered 181 to, and
    # the --rfid states whose UID the EMP IUT did not answer as that state. A setup mistake and a
    # fault look the same from outside: the checks that need them say inconclusive, not fail.
    unknown_connectors: tuple[str, ...] = ()
    doubtful_rfids: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"--url {self.url!r} is not an http(s) URL; give the IUT's OIOI endpoint, "
                              "e.g. http://127.0.0.1:8000/api/v4/request.")
        if self.role not in ROLES:
            raise ConfigError(f"The role {self.role!r} is not one of cpo, emp.")
        if not self.api_key:
            raise ConfigError("No API key: give --api-key (or set OIOI_API_KEY) with the key the IUT accepts.")
        if self.profile not in PROFILES:
            raise ConfigError(f"The profile {self.profile!r} is not one of {', '.join(PROFILES)}.")
        if any(len(p) < 16 for p in self.partner_identifiers):
            raise ConfigError("A partner identifier must be at least 16 characters long (glossary.rst).")
        if unknown := set(self.rfids) - set(STAGING_RFIDS):
            raise ConfigError(f"--rfid states are active, inactive and unknown, not {sorted(unknown)!r}.")
        if self.timeout <= 0 or self.wait <= 0:
            raise ConfigError("--timeout and --wait must be positive numbers of seconds.")
        for name in ("partner_timeout", "retry_window", "delivery_window"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ConfigError(f"--{name.replace('_', '-')} must be a positive number of seconds, not {value!r}.")
        if self.backoff_tolerance is not None and not 0 <= self.backoff_tolerance <= 1:
            raise ConfigError(f"--backoff-tolerance must be a fraction from 0 to 1 (1: full jitter), not "
                              f"{self.backoff_tolerance!r}.")
        if self.listen and not self.partner_api_key:
            raise ConfigError("--listen needs --partner-api-key: the key the IUT sends to the mock partner.")
        if self.control_url and urlsplit(self.control_url).scheme not in ("http", "https"):
            raise ConfigError(f"--control-url {self.control_url!r} is not an http(s) URL.")

    @property
    def effort(self) -> dict[str, int]:
        """The Hypothesis effort of the profile."""
        return PROFILES[self.profile]

    def hypothesis_settings(self, **overrides: Any) -> settings:
        """Hypothesis settings of the profile (no deadline, no example database; no shrinking in quick)."""
        effort = self.effort
        phases = [p for p in Phase if effort["shrink"] or p not in (Phase.shrink, Phase.explain)]
        chosen: dict[str, Any] = {"max_examples": effort["examples"], "stateful_step_count": effort["steps"],
                                  "deadline": None, "database": None, "phases": phases,
                                  "suppress_health_check": list(HealthCheck)}
        return settings(**(chosen | overrides))

    @property
    def partner(self) -> str:
        """The partner identifier the harness puts in what it sends."""
        return self.partner_identifiers[0]

    @property
    def other_partner(self) -> str:
        """A second partner identifier (the second given, or a harness default)."""
        others = [p for p in (*self.partner_identifiers[1:], *DEFAULT_PARTNER_IDENTIFIERS) if p != self.partner]
        return others[0]

    def describe(self) -> dict[str, Any]:
        """The run's settings for headers and reports (the key masked)."""
        return {"url": self.url, "role": self.role, "api_key": mask(self.api_key), "profile": self.profile,
                "seed": self.seed, "connectors": list(self.connectors), "partner_identifier": self.partner,
                "strict": self.strict, "not_implemented": sorted(self.not_implemented)}

    def unreachable(self) -> str | None:
        """Why the IUT's host and port cannot be reached (None when a TCP connection opens)."""
        parts = urlsplit(self.url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            with socket.create_connection((parts.hostname, port), timeout=min(self.timeout, 5.0)):
                return None
        except OSError as failure:
            return (f"Cannot reach the IUT at {self.url} ({failure.strerror or failure}); check --url and that "
                    "the implementation is running.")


def parse_rfids(values: list[str], base: dict[str, str] | None = None) -> dict[str, str]:
    """``STATE=UID`` options on top of ``base`` (default: the staging UIDs of testaccount.rst)."""
    rfids = dict(STAGING_RFIDS if base is None else base)
    for value in values:
        state, sep, uid = value.partition("=")
        if not sep or not uid:
            raise ConfigError(f"--rfid {value!r} is not STATE=UID, e.g. --rfid active=04523022AA4881.")
        rfids[state.strip()] = uid.strip()
    return rfids
