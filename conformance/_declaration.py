"""The IUT's declaration: one TOML file a partner fills once (ISO/IEC 9646: a PICS and a PIXIT).

``[features]`` says which optional parts of OIOI the IUT implements (the PICS); ``[iut]``,
``[rfid]`` and ``[parameters]`` hold what the harness needs to test it (the PIXIT). Settings
come from the file, overridden by ``OIOI_*`` environment variables, overridden by flags
(``settings``). API keys never go in the file: they stay in the environment or on the
command line.
"""

from __future__ import annotations

import difflib
import json
import textwrap
import tomllib
from collections.abc import Mapping
from typing import Any

from conformance._catalogue import FEATURES
from conformance._target import DEFAULT_PARTNER_IDENTIFIERS, STAGING_RFIDS
from oioi import mask
from oioi.errors import ConfigError

__all__ = ["ENVIRONMENT", "KEYS", "environment", "load", "render", "sections", "settings"]

# Per table, each key of the file: the Target field it sets, its kind and the comment above it
# in the template. Kinds: str, number (seconds or a fraction), int, bool, list (of strings).
KEYS: dict[str, dict[str, tuple[str, str, str]]] = {
    "iut": {
        "role": ("role", "str", "The IUT's role: \"cpo\" or \"emp\"."),
        "url": ("url", "str", "The IUT's OIOI endpoint."),
        "control-url": ("control_url", "str", "The IUT's test-control hook (see the README); without it, a person "
                        "at the terminal is asked."),
        "connector-id": ("connectors", "list", "CPO: EVSE IDs of the IUT the harness may start sessions and "
                         "reservations on (two for every check)."),
        "partner-identifier": ("partner_identifiers", "list", "Partner identifiers the harness sends, as agreed "
                               "with the IUT (at least 16 characters; a second one for the checks that need two)."),
        "partner-timeout": ("partner_timeout", "number", "Seconds the IUT's HTTP client waits for its partner's "
                            "answer before it gives up (unknown: the timeout check may be inconclusive)."),
        "retry-window": ("retry_window", "number", "Seconds within which the IUT sends a message again after a "
                         "5xx answer (unknown: no retry seen is inconclusive)."),
        "delivery-window": ("delivery_window", "number", "Seconds within which the IUT sends what an event calls "
                            "for: a status after a change, a CDR after a session (unknown: nothing arriving "
                            "within --wait is inconclusive)."),
        "backoff-tolerance": ("backoff_tolerance", "number", "How much shorter than the one before a gap between "
                              "the IUT's retries may be, as a fraction (jitter; 1: full jitter; unknown: 0.5, "
                              "or 1 when a wait is shorter than half the one before)."),
    },
    "features": {name: ("not_implemented", "bool", description) for name, description in FEATURES.items()},
    "rfid": {
        "active": ("rfids", "str", "EMP: a UID the IUT knows as active (rfid-verify answers 0)."),
        "inactive": ("rfids", "str", "EMP: a UID the IUT knows as inactive or locked (192)."),
        "unknown": ("rfids", "str", "EMP: a UID the IUT does not know (191)."),
    },
    "parameters": {
        "profile": ("profile", "str", "quick (every CI build) or full (the certification run)."),
        "seed": ("seed", "int", "Seed of the generated requests (same seed, same requests); random when left out."),
        "timeout": ("timeout", "number", "Seconds to wait for each answer of the IUT."),
        "wait": ("wait", "number", "Seconds to wait for each message the IUT sends."),
        "listen": ("listen", "str", "HOST:PORT where the mock partner receives what the IUT sends (configure the "
                   "IUT to send to http://HOST:PORT/api/v4/request)."),
    },
}
TITLES = {
    "iut": "The implementation under test and what it declares about itself (PIXIT).",
    "features": "Optional parts of OIOI the IUT implements (PICS): false makes their requirements not-applicable.",
    "rfid": "EMP: the UIDs the IUT knows, per state (default: testaccount.rst's).",
    "parameters": "How the harness runs.",
}
# Shown commented out in the template when the value is not set.
EXAMPLES = {"control-url": "http://127.0.0.1:8000/control", "partner-timeout": 30, "retry-window": 60,
            "delivery-window": 10, "seed": 7, "listen": "127.0.0.1:8081"}
# OIOI_* environment variables: the Target field each sets, and its kind.
ENVIRONMENT: dict[str, tuple[str, str]] = {
    "OIOI_URL": ("url", "str"), "OIOI_ROLE": ("role", "str"), "OIOI_CONTROL_URL": ("control_url", "str"),
    "OIOI_LISTEN": ("listen", "str"), "OIOI_PROFILE": ("profile", "str"), "OIOI_SEED": ("seed", "int"),
    "OIOI_TIMEOUT": ("timeout", "number"), "OIOI_WAIT": ("wait", "number"),
    "OIOI_PARTNER_TIMEOUT": ("partner_timeout", "number"), "OIOI_RETRY_WINDOW": ("retry_window", "number"),
    "OIOI_DELIVERY_WINDOW": ("delivery_window", "number"),
    "OIOI_BACKOFF_TOLERANCE": ("backoff_tolerance", "number"), "OIOI_STRICT": ("strict", "bool"),
}
DEFAULTS: dict[str, Any] = {"url": "http://127.0.0.1:8000/api/v4/request", "role": "cpo", "control_url": None,
                            "connectors": (), "partner_identifiers": DEFAULT_PARTNER_IDENTIFIERS,
                            "partner_timeout": None, "retry_window": None, "delivery_window": None,
                            "backoff_tolerance": None,
                            "not_implemented": frozenset(), "rfids": STAGING_RFIDS, "profile": "quick", "seed": None,
                            "timeout": 10.0, "wait": 10.0, "listen": None}
_SECRET_WORDS = ("key", "secret", "password", "token")
_KIND_TEXT = {"str": "a string", "number": "a number", "int": "a whole number", "bool": "true or false",
              "list": "a list of strings"}


def load(path: str) -> dict[str, Any]:
    """The Target settings a declaration file gives (ConfigError, one sentence, for any fault in it)."""
    try:
        with open(path, "rb") as file:
            data = tomllib.load(file)
    except OSError as failure:
        raise ConfigError(f"Cannot read the declaration {path} ({failure.strerror or failure}); "
                          "check --declaration.") from None
    except tomllib.TOMLDecodeError as failure:
        raise ConfigError(f"The declaration {path} is not valid TOML: {failure}.") from None
    except UnicodeDecodeError:
        raise ConfigError(f"The declaration {path} is not UTF-8 text.") from None
    values: dict[str, Any] = {}
    for table, entries in data.items():
        _refuse_secret(path, table, None)
        if table not in KEYS:
            raise ConfigError(f"The declaration {path} has an unknown table [{table}]{_hint(table, KEYS)}")
        if not isinstance(entries, dict):
            raise ConfigError(f"The declaration {path}: {table} must be a table ([{table}]), not {entries!r}.")
        for key, value in entries.items():
            _refuse_secret(path, table, key)
            if key not in KEYS[table]:
                raise ConfigError(f"The declaration {path} has an unknown key {key!r} in [{table}]"
                                  f"{_hint(key, KEYS[table], table)}")
            field, kind, _ = KEYS[table][key]
            value = _typed(value, kind, f"[{table}] {key} in the declaration {path}")
            if table == "features":
                if not value:
                    values.setdefault("not_implemented", set()).add(key)
            elif table == "rfid":
                values.setdefault("rfids", {})[key] = value
            else:
                values[field] = tuple(value) if kind == "list" else value
    if "not_implemented" in values:
        values["not_implemented"] = frozenset(values["not_implemented"])
    return values


def _refuse_secret(path: str, table: str, key: str | None) -> None:
    name = (key or table).lower().replace("_", "-")
    if any(word in name.split("-") or name.endswith(word) for word in _SECRET_WORDS):
        where = f"[{table}] {key}" if key is not None else f"[{table}]"
        raise ConfigError(f"The declaration {path} holds a secret ({where}), and API keys never go in the "
                          "declaration: remove it and give the key with --api-key or OIOI_API_KEY "
                          "(--partner-api-key or OIOI_PARTNER_API_KEY for the mock partner's).")


def _hint(name: str, known: Mapping[str, Any], table: str | None = None) -> str:
    """The end of an unknown-name sentence: where the key belongs, or the closest known name."""
    if table is not None:
        for other, keys in KEYS.items():
            if other != table and name in keys:
                return f"; {name!r} belongs in [{other}]."
    close = difflib.get_close_matches(name, list(known), n=1)
    if close:
        return f"; did you mean {close[0]!r}?" if table is not None else f"; did you mean [{close[0]}]?"
    listed = ", ".join(f"[{k}]" if table is None else k for k in known)
    return f"; the {'tables' if table is None else 'keys'} are {listed}."


def _typed(value: Any, kind: str, where: str) -> Any:
    """``value`` when it has the kind the key needs (a number: int or float, never a bool)."""
    fits = {"str": isinstance(value, str), "bool": isinstance(value, bool),
            "int": isinstance(value, int) and not isinstance(value, bool),
            "number": isinstance(value, int | float) and not isinstance(value, bool),
            "list": isinstance(value, list) and all(isinstance(item, str) for item in value)}[kind]
    if not fits:
        raise ConfigError(f"{where} must be {_KIND_TEXT[kind]}, not {value!r}.")
    return float(value) if kind == "number" else value


def environment(environ: Mapping[str, str]) -> dict[str, Any]:
    """The Target settings the ``OIOI_*`` environment variables give."""
    values: dict[str, Any] = {}
    for name, (field, kind) in ENVIRONMENT.items():
        text = environ.get(name, "").strip()
        if not text:
            continue
        if kind == "bool":
            values[field] = text.lower() in ("1", "true", "yes")
            continue
        try:
            values[field] = int(text) if kind == "int" else float(text) if kind == "number" else text
        except ValueError:
            raise ConfigError(f"{name}={text!r} is not {_KIND_TEXT[kind]}.") from None
    return values


def settings(path: str | None, environ: Mapping[str, str], flags: Mapping[str, Any]) -> dict[str, Any]:
    """Target keyword arguments: the declaration, overridden by ``OIOI_*``, overridden by flags.

    A flag that was not given is None (or empty). ``rfids`` merge per state on top of the
    staging UIDs of testaccount.rst, so a flag for one state keeps the file's others.
    """
    values = load(path) if path else {}
    rfids = {**STAGING_RFIDS, **values.pop("rfids", {})}
    values |= environment(environ)
    given = {name: value for name, value in flags.items() if value not in (None, (), [], {})}
    rfids |= given.pop("rfids", {})
    return {**values, **given, "rfids": rfids}


def sections(values: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The declaration's tables for Target settings (fields left out take the defaults; None: not set)."""
    merged = {**DEFAULTS, **values}
    tables: dict[str, dict[str, Any]] = {}
    for table, keys in KEYS.items():
        tables[table] = {}
        for key, (field, kind, _) in keys.items():
            if table == "features":
                tables[table][key] = key not in merged["not_implemented"]
            elif table == "rfid":
                tables[table][key] = merged["rfids"].get(key, STAGING_RFIDS[key])
            else:
                value = merged[field]
                tables[table][key] = list(value) if kind == "list" else value
    return tables


def render(tables: Mapping[str, Mapping[str, Any]]) -> str:
    """The declaration as commented TOML (a value not set is an example, commented out)."""
    lines = ["# The declaration of an OIOI implementation under test (ISO/IEC 9646: PICS and PIXIT).",
             "# Fill it in once; run: oioi certify --declaration FILE. Flags and OIOI_* variables override it.",
             "# API keys never go here: give them with --api-key / OIOI_API_KEY and --partner-api-key /",
             "# OIOI_PARTNER_API_KEY."]
    for table, keys in KEYS.items():
        lines += ["", f"# {TITLES[table]}", f"[{table}]"]
        for key, (_, _, comment) in keys.items():
            value = tables.get(table, {}).get(key)
            lines += [f"# {line}" for line in textwrap.wrap(comment, width=98)]
            if value is None:
                lines.append(f"# {key} = {_toml(EXAMPLES.get(key, ''))}")
            else:
                lines.append(f"{key} = {_toml(value)}")
    return "\n".join(lines) + "\n"


def _toml(value: Any) -> str:
    """A TOML value (JSON's strings are TOML basic strings)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    return json.dumps(value)


def describe(values: Mapping[str, Any], path: str | None, api_key: str, partner_api_key: str | None) -> dict[str, Any]:
    """What was declared, for report.json: the file, its tables as used (keys masked)."""
    tables = sections(values)
    tables["iut"] = {**tables["iut"], "api-key": mask(api_key),
                     "partner-api-key": mask(partner_api_key) if partner_api_key else None}
    return {"file": path, **tables}
