"""The formats the spec states for the fields the references receive, each with the sentence that states it.

Written from glossary.rst and calls/*.rst for examples/_reference/_checks.py (every request) and
examples/_reference/_strict.py (the strict-validation behaviour); nothing here comes from the
harness.
"""

from __future__ import annotations

import re

__all__ = [
    "CLOCK_TIME",
    "CONNECTOR_NUMBER",
    "CONNECTOR_TYPES",
    "COUNTRIES",
    "CPO_ID",
    "CURRENCY",
    "EVCO_ID",
    "EVCO_ID_OF_EXAMPLES",
    "EVSE_ID",
    "IDENTIFIER_TYPES",
    "PARTNER_IDENTIFIER_LENGTH",
    "RESERVATION_IDENTIFIER_TYPES",
    "RFC3339",
    "STATUSES",
    "UID",
    "UID_OF_EXAMPLE",
    "WEEKDAYS",
]


# ISO 3166-1 alpha-2, the officially assigned codes (glossary.rst: "Country Code (international two-letter
# code in accordance with ISO 3166-1 alpha-2)"; calls/station_post.rst, address.country).
COUNTRIES = frozenset(
    """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ
    CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR
    GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT
    JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY
    MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM
    PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV
    SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT
    ZA ZM ZW
    """.split()  # noqa: SIM905 - the list reads as ISO publishes it
)
# glossary.rst, EVCO ID: country code, "The literal * or the literal - (optional)", "EMP identifier (letters and
# numbers; three characters ...)", "ID of the EVCO (letters and numbers; six characters)", "Check digit (A number
# or the literal X)".
EVCO_ID = re.compile(r"(?P<country>[A-Za-z]{2})[*-]?[A-Za-z0-9]{3}[*-]?[A-Za-z0-9]{6}[*-]?[0-9X]")
# calls/reservation_start.rst's example sends "DE*8PS*156456730*9": an ID part of nine characters (ISO 15118).
EVCO_ID_OF_EXAMPLES = re.compile(r"[A-Za-z]{2}[*-]?[A-Za-z0-9]{3}[*-]?[A-Za-z0-9]{6,9}[*-]?[0-9X]")
# glossary.rst, EVSE: "An EVSE ID must be valid with respect to the following structure:
# [A-Za-z]{2}\*?[A-Za-z0-9]{3}\*?E[A-Za-z0-9\*]{1,30}".
EVSE_ID = re.compile(r"(?P<country>[A-Za-z]{2})\*?[A-Za-z0-9]{3}\*?E[A-Za-z0-9*]{1,30}")
# calls/session_start.rst and calls/session_stop.rst: their examples send the connector-id "1356".
CONNECTOR_NUMBER = re.compile(r"[0-9]+")
# calls/station_post.rst, cpo-id: "The EVSE identifier, e.g. DE*8PS, of the CPO" (the EVSE ID's first two parts).
CPO_ID = re.compile(r"(?P<country>[A-Za-z]{2})\*?[A-Za-z0-9]{3}")
# calls/rfid_post.rst, calls/rfid_verify.rst: "An RFID must have a length of 8, 14 or 20 characters", "All
# characters must be upper-case", "read from left to right using big-endian format": the bytes of a 4, 7 or
# 10 byte UID (ISO/IEC 14443's sizes) in upper-case hexadecimal.
UID = re.compile(r"[0-9A-F]{8}|[0-9A-F]{14}|[0-9A-F]{20}")
# calls/rfid_post.rst's example sends "abcdefab": its whitelist accepts lower-case hexadecimal too.
UID_OF_EXAMPLE = re.compile(r"[0-9A-Fa-f]{8}|[0-9A-Fa-f]{14}|[0-9A-Fa-f]{20}")
# calls/session_post.rst: "The date/time format is RFC3339" (RFC 3339, 5.6: date-time; T, Z case-insensitive).
# Groups: year, month, day, hour, minute, second, then the offset's sign, hours and minutes (none for Z).
RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:[Zz]|([+-])([01]\d|2[0-3]):([0-5]\d))"
)
# calls/station_post.rst, open-hour-notes: "Opening and closing time", e.g. "07:30" and "19:00"; 24:00 closes a day.
CLOCK_TIME = re.compile(r"(?:[01]\d|2[0-3]):[0-5]\d|24:00")
# calls/station_post.rst, open-hour-notes: "Weekdays", e.g. "Mo", "Fr", "Sa".
WEEKDAYS = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")
# calls/station_get_by_ids.rst: "The currency of the prices (string; format "EUR")"; calls/session_post.rst:
# "E.g. "EUR"": three upper-case letters.
CURRENCY = re.compile(r"[A-Z]{3}")
# glossary.rst, Partner Identifier: "Must be a random string that is at least 16 characters long."
PARTNER_IDENTIFIER_LENGTH = 16
# calls/connector_post_status.rst, status: "One of the following strings".
STATUSES = ("Available", "Occupied", "Offline", "Reserved", "Unknown")
# calls/station_post.rst, connectors[].name: "Allowed types are:".
CONNECTOR_TYPES = (
    "Type2", "Combo", "Chademo", "Schuko", "Type3", "CeeBlue", "3PinSquare", "Type1", "CeeRed", "Cee2Poles", "Tesla",
    "Scame", "Nema5", "CeePlus", "T13", "T15", "T23", "Marechal", "TypeE",
)  # fmt: skip
# calls/session_start.rst, user.identifier-type: "The identifier-type can be one of:".
IDENTIFIER_TYPES = ("evco-id", "rfid", "username", "token")
# calls/reservation_stop.rst, identifier-type: "The identifier-type can be one of:".
RESERVATION_IDENTIFIER_TYPES = ("evco-id", "rfid")
