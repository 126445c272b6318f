"""Redaction of captured traffic for sharing: consistent pseudonyms of keys, EVCO IDs, UIDs and personal data.

A support ticket must not carry customer identifiers, yet the bug must still reproduce from it.
``Pseudonyms().entries(journal)`` gives journal entries (the dicts ``oioi mock journal`` exports)
in which every API key, token and password, EVCO ID, RFID UID and personal field of a user call
is replaced by a pseudonym of the same shape, wherever the value appears: bodies, headers,
findings' messages, raw (non-JSON) bodies. Within one `Pseudonyms`:

- the same original always gives the same pseudonym, and two originals never share one (so a
  repeated UID stays repeated, two different ones stay different);
- a pseudonym keeps the class of every character (digit, hexadecimal letter, other letter, its
  case; ``X`` and punctuation are kept), the length, a UID's leading zeros and an EVCO ID's
  country, separators and check-digit validity, so `oioi.validate` judges the redacted message
  exactly as the original: an invalid value stays invalid in the same way;
- pseudonyms are HMAC-SHA256 of the value under a salt (random unless given): not reversible
  without it, and the same salt gives the same pseudonyms in two exports.

Which fields hold what comes from the schemas (the fields whose definition is ``evco-id`` or
``rfid-uid``) and from glossary.rst (a user's ``identifier`` is of its ``identifier-type``);
the personal fields are those of the user calls (calls/user_*.rst, fleet_*.rst, adyen_*.rst).
The module is over 400 lines because finding the values and replacing them share every table above.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable, Iterable
from typing import Any

from oioi._schemas import documents

__all__ = ["PERSONAL_FIELDS", "SECRET_FIELDS", "Pseudonyms", "evco_check_digit", "evco_fields", "uid_fields"]

# Calls whose messages are about one person (calls/user_*.rst, fleet_post_*.rst, adyen_*.rst): their personal
# fields are redacted. Fields of other calls (a station's address and phone) describe no person.
PERSONAL_CALLS = ("user-", "fleet-", "adyen-")
PERSONAL_FIELDS = frozenset({
    "first-name", "last-name", "billing-name", "company-name", "reimbursement-full-name", "job-title",
    "email", "phone", "username", "street", "street-number", "city", "zip", "postal-code", "state-province",
    "address-line-1", "address-line-2", "social-security-number", "vat", "iban", "reimbursement-iban", "bic",
    "number", "external-id", "fleet-member-uid", "fm-card-uid", "visual-id", "shopperReference",
})
# Secrets in any call: calls/user_*.rst's passwords, the user object's token (glossary.rst, request.rst).
SECRET_FIELDS = frozenset({"password", "current-password", "new-password", "token", "encrypted-data"})
# glossary.rst, EVCO ID / calls: a user's "identifier" is of its "identifier-type".
IDENTIFIER_KINDS = {"evco-id": "evco", "rfid": "uid", "username": "other", "token": "key"}
# Request headers that carry a credential; their value (after a scheme such as "key=") is replaced.
SECRET_HEADER = re.compile(r"auth|api[-_]?key|^key$|token|secret|password|cookie", re.IGNORECASE)
HEADER_SCHEME = re.compile(r"^(?:key=|bearer |basic |token )", re.IGNORECASE)
# glossary.rst, EVCO ID: country, optional separator, EMP identifier (3), separator, ID (6), separator, check digit.
EVCO_ID = re.compile(r"([A-Za-z]{2})([*-]?)([A-Za-z0-9]{3})([*-]?)([A-Za-z0-9]{6})([*-]?)([0-9X])")
# A value in a raw body that is not JSON: "field": "value" (a JSON string, escapes included).
RAW_FIELD = re.compile(r'"([A-Za-z-]+)"\s*:\s*"((?:[^"\\]|\\.)*)"')
RAW_LIST = re.compile(r'"([A-Za-z-]+)"\s*:\s*\[([^\]]*)\]')
RAW_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')
# Character classes a pseudonym keeps (each character becomes one of its own class); any other character
# stays. "X" stays: it is the only letter a pattern names alone (the EVCO ID's check digit, glossary.rst).
_CLASSES = ("0123456789", "ABCDEF", "GHIJKLMNOPQRSTUVWYZ", "abcdef", "ghijklmnopqrstuvwxyz")
# A letter outside ASCII stays one (a pattern's [A-Za-z] refuses it before and after): Latin-1's with its case,
# a CJK ideograph for a letter without case.
_OTHER_UPPER = "".join(c for c in map(chr, range(0xC0, 0xDF)) if c.isupper())
_OTHER_LOWER = "".join(c for c in map(chr, range(0xDF, 0x100)) if c.islower())
_OTHER_CASELESS = "".join(map(chr, range(0x4E00, 0x4F00)))
_RANK = {"evco": 0, "uid": 1, "key": 2, "other": 3}  # a value found as two kinds takes the first
_STRONG = 6  # kinds other than "other" of at least this length are also replaced inside longer strings
_ATTEMPTS = 256  # candidates tried before a pseudonym may repeat one already given (tiny value spaces only)
_PERSONAL_PLACES = PERSONAL_FIELDS | SECRET_FIELDS | {"identifier"}
_FINDING_FIELDS_KEPT = frozenset({"severity", "path", "rule", "spec", "erratum"})


def evco_check_digit(code: str) -> str:
    """The check digit of an EVCO ID's eleven characters (country, EMP identifier, ID), "0"-"9" or "X".

    glossary.rst gives only its place and form ("Check digit (A number or the literal X)"); the
    computation is DIN SPEC 91286's, the standard of that 2+3+6+1 form: each character's value
    (0-9, A=10 … Z=35) is written as its decimal digits, the n-th digit weighted 2**n; the sum
    modulo 11, 10 written X.
    """
    total, weight = 0, 0
    for char in code.upper():
        value = int(char, 36)
        for digit in (value,) if value < 10 else divmod(value, 10):
            total += digit << weight
            weight += 1
    rest = total % 11
    return "X" if rest == 10 else str(rest)


def _fields_with(definition: str) -> frozenset[str]:
    """The property names whose schema is ``definition`` of common/definitions.json (or a list of it)."""
    suffix = f"/$defs/{definition}"
    found: set[str] = set()

    def refers(node: Any) -> bool:
        if not isinstance(node, dict):
            return False
        options = [node, node.get("items"), *node.get("anyOf", []), *node.get("oneOf", [])]
        return any(isinstance(o, dict) and str(o.get("$ref", "")).endswith(suffix) for o in options)

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for name, sub in (node.get("properties") or {}).items():
                if refers(sub):
                    found.add(name)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(list(documents().values()))
    return frozenset(found)


@functools.cache
def evco_fields() -> frozenset[str]:
    """Fields that hold an EVCO ID in some call (the schemas': ``evco-id``)."""
    return _fields_with("evco-id")


@functools.cache
def uid_fields() -> frozenset[str]:
    """Fields that hold an RFID UID, or a list of them, in some call (the schemas': ``rfid``, ``rfids``, ``uid``)."""
    return _fields_with("rfid-uid")


def _kind_of_field(name: str, personal: bool) -> str | None:
    if name in evco_fields():
        return "evco"
    if name in uid_fields():
        return "uid"
    if name in SECRET_FIELDS:
        return "key"
    return "other" if personal and name in PERSONAL_FIELDS else None


def _personal(call: Any) -> bool:
    return isinstance(call, str) and call.startswith(PERSONAL_CALLS)


def _class_of(char: str) -> str | None:
    for chars in _CLASSES:
        if char in chars:
            return chars
    if char.isalpha() and not char.isascii():
        return _OTHER_UPPER if char.isupper() else _OTHER_LOWER if char.islower() else _OTHER_CASELESS
    return None


def _shape(value: str, stream: bytes) -> str:
    """``value`` with every character replaced by one of its class, chosen by ``stream`` (one byte each)."""
    out = []
    for char, byte in zip(value, stream, strict=False):
        chars = _class_of(char)
        out.append(chars[byte % len(chars)] if chars else char)
    return "".join(out)


def _has_content(value: str) -> bool:
    return any(_class_of(char) for char in value)


class Pseudonyms:
    """Consistent pseudonyms for one export: ``entry``/``entries``/``message`` give redacted copies.

    ``salt`` (bytes or text) makes the pseudonyms reproducible; without it a random one is drawn.
    `entries` looks at every entry before it replaces anything, so no pseudonym equals an original
    value anywhere in them; `entry` and `message` can only avoid the values seen so far.
    """

    def __init__(self, salt: bytes | str | None = None) -> None:
        """Start an empty table of pseudonyms under ``salt``."""
        self._salt = secrets.token_bytes(32) if salt is None else salt.encode() if isinstance(salt, str) else salt
        self._kinds: dict[str, str] = {}  # every original value found, with its kind
        self._given: dict[str, str] = {}  # original -> pseudonym
        self._taken: set[str] = set()  # pseudonyms given
        self._providers: dict[str, str] = {}  # an EVCO ID's EMP identifier -> its pseudonym
        self._patterns: tuple[re.Pattern[str], re.Pattern[str]] | None = None  # (every value, strong values)

    # --- the public API -----------------------------------------------------------------------------

    def entries(self, entries: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """Redacted copies of journal entries, every value found in any of them before any is replaced."""
        entries = list(entries)
        for entry in entries:
            self._find_entry(entry)
        return [self._redact_entry(entry) for entry in entries]

    def entry(self, entry: dict[str, Any]) -> dict[str, Any]:
        """A redacted deep copy of one journal entry."""
        self._find_entry(entry)
        return self._redact_entry(entry)

    def message(self, message: Any, *, call: str | None = None) -> Any:
        """A redacted copy of one bare message (parsed JSON, or raw text); ``call`` for a response."""
        self._find(message, call)
        return self._text(message) if isinstance(message, str) else self._structured(message)

    def pseudonym(self, value: str, kind: str = "other") -> str:
        """The pseudonym of ``value`` as a ``kind`` ("evco", "uid", "key" or "other") value."""
        self._add(value, kind)
        return self._pseudonym(value) if value in self._kinds else value

    def originals(self) -> dict[str, str]:
        """Every value found so far, with its kind (for tests: what must not be left in an export)."""
        return dict(self._kinds)

    # --- finding the values ----------------------------------------------------------------------------

    def _add(self, value: str, kind: str) -> None:
        if not value or not _has_content(value):
            return
        known = self._kinds.get(value)
        if known is None or (_RANK[kind] < _RANK[known] and value not in self._given):
            self._kinds[value] = kind
            self._patterns = None

    def _find_entry(self, entry: dict[str, Any]) -> None:
        call = entry.get("call")
        for field in ("request_headers", "response_headers"):
            headers = entry.get(field)
            for name, value in headers.items() if isinstance(headers, dict) else ():
                if isinstance(value, str) and SECRET_HEADER.search(name):
                    self._add(_split_scheme(value)[1], "key")
        request = entry.get("request_body")
        call = call or _top_key(request)  # an answer is of its request's call
        self._find(request, call)
        self._find(entry.get("response_body"), call)

    def _find(self, node: Any, call: Any) -> None:
        if call is None:
            call = _top_key(node)
        if isinstance(node, str):
            self._find_raw(node, _personal(call))
        else:
            self._find_json(node, _personal(call))

    def _find_json(self, node: Any, personal: bool) -> None:
        if isinstance(node, list):
            for item in node:
                self._find_json(item, personal)
        if not isinstance(node, dict):
            return
        of_type = node.get("identifier-type")
        typed = IDENTIFIER_KINDS.get(of_type, "other") if isinstance(of_type, str) else "other"
        for name, value in node.items():
            kind = typed if name == "identifier" else _kind_of_field(name, personal)
            if kind is not None and isinstance(value, str):
                self._add(value, kind)
            elif kind is not None and isinstance(value, list) and all(isinstance(v, str) for v in value):
                for item in value:
                    self._add(item, kind)
            else:
                self._find_json(value, personal)

    def _find_raw(self, text: str, personal: bool) -> None:
        """Values in a body that is not JSON, found by their field names (an identifier by its shape)."""
        for name, value in RAW_FIELD.findall(text):
            kind = _kind_by_shape(value) if name == "identifier" else _kind_of_field(name, personal)
            if kind is not None:
                self._add(value, kind)
        for name, items in RAW_LIST.findall(text):
            listed = _kind_of_field(name, personal)
            if listed is not None:
                for value in RAW_STRING.findall(items):
                    self._add(value, listed)

    # --- replacing them ----------------------------------------------------------------------------------

    def _redact_entry(self, entry: dict[str, Any]) -> dict[str, Any]:
        out = copy.deepcopy(entry)
        for field in ("request_headers", "response_headers"):  # the second, when a capture (HAR) has them
            headers = entry.get(field)
            if isinstance(headers, dict):
                out[field] = {name: self._header(name, value) for name, value in headers.items()}
        for field in ("request_body", "response_body", "fault"):
            if field in entry:
                value = entry[field]
                out[field] = self._text(value) if isinstance(value, str) else self._structured(value)
        if isinstance(entry.get("findings"), list):
            out["findings"] = [self._finding(finding) for finding in entry["findings"]]
        return out

    def _header(self, name: str, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        if SECRET_HEADER.search(name):
            scheme, secret = _split_scheme(value)
            return scheme + (self._pseudonym(secret) if secret in self._kinds else secret)
        return self._text(value)

    def _finding(self, finding: Any) -> Any:
        if not isinstance(finding, dict):
            return self._structured(finding)
        return {key: value if key in _FINDING_FIELDS_KEPT else self._free(value) for key, value in finding.items()}

    def _free(self, node: Any) -> Any:
        """Free text (a finding's message) and what it holds: every value found, where it stands alone."""
        if isinstance(node, str):
            return self._text(node)
        if isinstance(node, list):
            return [self._free(item) for item in node]
        if isinstance(node, dict):
            return {key: self._free(value) for key, value in node.items()}
        return node

    def _structured(self, node: Any, field: str | None = None) -> Any:
        """A JSON value with the values found replaced.

        A key, EVCO ID or UID anywhere (inside a longer string from `_STRONG` characters on); a personal
        value only in the fields that hold personal values, so that a code that happens to equal one (a
        country, a status) stays.
        """
        if isinstance(node, str):
            kind = self._kinds.get(node)
            if kind is not None and (kind != "other" or field in _PERSONAL_PLACES):
                return self._pseudonym(node)
            return self._patterns_now()[1].sub(self._replace, node)
        if isinstance(node, list):
            return [self._structured(item, field) for item in node]
        if isinstance(node, dict):
            return {key: self._structured(value, key) for key, value in node.items()}
        return node

    def _text(self, text: str) -> str:
        return self._patterns_now()[0].sub(self._replace, text)

    def _replace(self, match: re.Match[str]) -> str:
        return self._pseudonym(match.group(0))

    def _patterns_now(self) -> tuple[re.Pattern[str], re.Pattern[str]]:
        """Regular expressions of every value found, and of the strong ones, each standing alone (longest first)."""
        if self._patterns is None:
            values = sorted(self._kinds, key=len, reverse=True)
            strong = [v for v in values if self._kinds[v] != "other" and len(v) >= _STRONG]
            self._patterns = (_alone(values), _alone(strong))
        return self._patterns

    # --- making pseudonyms ---------------------------------------------------------------------------------

    def _pseudonym(self, value: str) -> str:
        given = self._given.get(value)
        if given is not None:
            return given
        make: Callable[[str, int], str | None] = {"evco": self._evco, "uid": self._uid}.get(
            self._kinds.get(value, "other"), self._other
        )
        candidate = value
        for attempt in range(_ATTEMPTS):
            made = make(value, attempt)
            if made is None:
                continue
            candidate = made
            if made != value and made not in self._taken and made not in self._kinds:
                break
        self._given[value] = candidate
        self._taken.add(candidate)
        return candidate

    def _stream(self, tag: str, value: str, attempt: int) -> bytes:
        """Enough pseudo-random bytes for ``value``: HMAC-SHA256 of tag, attempt, block and value under the salt."""
        blocks = (len(value) + 1) // 32 + 1
        return b"".join(
            hmac.new(self._salt, f"{tag}\0{attempt}\0{block}\0{value}".encode(), hashlib.sha256).digest()
            for block in range(blocks)
        )

    def _other(self, value: str, attempt: int) -> str:
        return _shape(value, self._stream("other", value, attempt))

    def _uid(self, value: str, attempt: int) -> str:
        """Same length, case and hexadecimal digits; the leading zeros of a padded UID stay."""
        zeros = len(value) - len(value.lstrip("0"))
        zeros = 0 if zeros == len(value) else zeros
        return value[:zeros] + _shape(value[zeros:], self._stream("uid", value, attempt))

    def _evco(self, value: str, attempt: int) -> str | None:
        """Same country, separators and shape; the check digit right exactly when the original's is."""
        stream = self._stream("evco", value, attempt)
        parts = EVCO_ID.fullmatch(value)
        if parts is None:  # not of the glossary's structure: the same shape, country kept
            keep = 2 if value[:2].isalpha() else 0
            return value[:keep] + _shape(value[keep:], stream)
        country, sep1, provider, sep2, number, sep3, check = parts.groups()
        provider = self._provider(provider)
        number = _shape(number, stream)
        digit = evco_check_digit(country + provider + number)
        if evco_check_digit(parts[1] + parts[3] + parts[5]) == check:  # right: right again, and X only for X
            if (digit == "X") != (check == "X"):
                return None
            check = digit
        elif check == "X":  # wrong X: stays X, for a number whose digit is not X
            if digit == "X":
                return None
        else:  # a wrong digit: another wrong digit
            wrong = [d for d in "0123456789" if d != digit]
            check = wrong[stream[-1] % len(wrong)]
        return f"{country}{sep1}{provider}{sep2}{number}{sep3}{check}"

    def _provider(self, provider: str) -> str:
        """One pseudonym per EMP identifier, so that the EVCO IDs of one EMP still share it."""
        if provider not in self._providers:
            made = provider
            for attempt in range(_ATTEMPTS):
                made = _shape(provider, self._stream("provider", provider, attempt))
                if made != provider:
                    break
            self._providers[provider] = made
        return self._providers[provider]


def _alone(values: list[str]) -> re.Pattern[str]:
    """A pattern of ``values`` where no letter or digit touches them (never matches when there are none).

    The values are compiled as a trie, so that a text is scanned in time of its length, not of the number of
    values; a longer value is preferred to its prefix, as in an alternation of the values longest first.
    """
    if not values:
        return re.compile(r"(?!)")
    trie: dict[str, Any] = {}
    for value in values:
        node = trie
        for char in value:
            node = node.setdefault(char, {})
        node[""] = {}
    return re.compile(r"(?<![A-Za-z0-9])" + _trie_pattern(trie) + r"(?![A-Za-z0-9])")


def _trie_pattern(node: dict[str, Any]) -> str:
    """The pattern of the words below ``node`` (``""`` marks a word's end)."""
    chain = ""
    while len(node) == 1 and "" not in node:  # one way on: a run of characters, without nesting
        char, node = next(iter(node.items()))
        chain += re.escape(char)
    branches = [re.escape(char) + _trie_pattern(child) for char, child in node.items() if char]
    if not branches:
        return chain
    group = "(?:" + "|".join(branches) + ")"
    return chain + group + ("?" if "" in node else "")


def _split_scheme(value: str) -> tuple[str, str]:
    """A header value as its scheme ("key=", "Bearer ") and its secret."""
    scheme = HEADER_SCHEME.match(value)
    return (scheme.group(0), value[scheme.end():]) if scheme else ("", value)


def _top_key(message: Any) -> str | None:
    """The call a request names by its single top-level key (any key: the validator judges whether it is one)."""
    if isinstance(message, dict) and len(message) == 1:
        return str(next(iter(message)))
    return None


def _kind_by_shape(value: str) -> str:
    if EVCO_ID.fullmatch(value):
        return "evco"
    return "uid" if re.fullmatch(r"[0-9A-Fa-f]+", value) else "other"

