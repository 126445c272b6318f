"""OIOI result codes (request.rst, "OIOI Response Codes"): one exception class per code.

A handler raises ``EvseNotFound()`` and the endpoint answers ``{"result": {"code": 181,
"message": "EVSE not found"}}``. The spec's rule that a more general code must always be
accepted in place of a more specific one is `accepts(expected, received)`.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = ["CODES", "ResultCodeError", "accepts", "error_for", "result"]


class ResultCodeError(Exception):
    """Root of the protocol's own outcomes other than success; carries ``code`` and its text."""

    code: ClassVar[int] = 100
    description: ClassVar[str] = "System error"

    def __init__(self, detail: str | None = None) -> None:
        self.detail = detail
        super().__init__(f"{self.code:03d} {self.description}" + (f": {detail}" if detail else ""))

    def result(self) -> dict[str, object]:
        """The ``result`` object of a response that reports this outcome."""
        return result(self.code, self.detail or self.description)


def _code(code: int, description: str, name: str) -> type[ResultCodeError]:
    return type(name, (ResultCodeError,), {"code": code, "description": description, "__doc__": description + "."})


# request.rst, "OIOI Response Codes" (0xx are successes and have no exception).
CODES: dict[int, str] = {
    0: "Success",
    11: "Successfully started a charging session",
    12: "Successfully authorized a charging session",
    100: "System error",
    101: "Database error",
    102: "System timeout",
    140: "Authentication failed: No positive authentication response",
    141: "Authentication failed: Invalid email or password",
    142: "Authentication failed: Invalid email",
    143: "Authentication failed: Email already exists",
    144: "Authentication failed: Email does not exist",
    145: "Authentication failed: User token not valid",
    180: "Entity not found",
    181: "EVSE not found",
    182: "Session not found",
    183: "Company not found",
    184: "Vehicle not found",
    185: "Subscription plan not found",
    186: "Group not found",
    187: "EVSE ID does not support direct pay",
    188: "EVSE ID does not support remote stop",
    189: "Reservation not found",
    190: "EVCO ID error",
    191: "EVCO ID not found",
    192: "EVCO ID locked",
    193: "EVCO ID has no valid payment method",
    194: "EVCO ID has another active reservation",
    195: "User has already active rating subscription",
    200: "Client request error",
    210: "Invalid API key",
    211: "Invalid partner identifier",
    220: "API key not allowed to access the requested resource",
    230: "Invalid request format",
    300: "System error",
    302: "System timeout",
    310: "EVSE error",
    312: "EVSE timeout",
    320: "EVSE already in use",
    321: "No EV connected to EVSE",
    322: "Connector with the same EVSE ID, but with different latitude/longitude exists",
    323: "EVSE already reserved",
    330: "EVSE does not support reservation",
    400: "System error",
    402: "System timeout",
    800: "System error",
    802: "System timeout",
    805: "This user is not allowed to use this method",
    830: "Invalid format",
    850: "Invalid payment method",
    860: "Bank transfer error",
    861: "Bank account not valid",
    862: "Invalid name",
    863: "Invalid IBAN",
    864: "Invalid BIC",
    870: "Credit card error",
    871: "Credit card not valid",
    872: "Invalid card holder name",
    874: "Invalid credit card number",
    875: "Invalid expiration date",
    876: "Invalid CVC",
    880: "PayPal error",
}

SystemFailure = _code(100, CODES[100], "SystemFailure")
SessionNotFound = _code(182, CODES[182], "SessionNotFound")
EvseNotFound = _code(181, CODES[181], "EvseNotFound")
ReservationNotFound = _code(189, CODES[189], "ReservationNotFound")
EvcoIdError = _code(190, CODES[190], "EvcoIdError")
EvcoIdNotFound = _code(191, CODES[191], "EvcoIdNotFound")
EvcoIdLocked = _code(192, CODES[192], "EvcoIdLocked")
EvcoIdNoPayment = _code(193, CODES[193], "EvcoIdNoPayment")
EvcoIdHasReservation = _code(194, CODES[194], "EvcoIdHasReservation")
ClientRequestError = _code(200, CODES[200], "ClientRequestError")
InvalidApiKey = _code(210, CODES[210], "InvalidApiKey")
InvalidPartnerIdentifier = _code(211, CODES[211], "InvalidPartnerIdentifier")
NotAllowed = _code(220, CODES[220], "NotAllowed")
InvalidRequestFormat = _code(230, CODES[230], "InvalidRequestFormat")
EvseInUse = _code(320, CODES[320], "EvseInUse")
EvseAlreadyReserved = _code(323, CODES[323], "EvseAlreadyReserved")
EvseNoReservation = _code(330, CODES[330], "EvseNoReservation")
AuthenticationFailed = _code(140, CODES[140], "AuthenticationFailed")


def error_for(code: int) -> type[ResultCodeError]:
    """The exception class of a result code (a generic one for codes without a named class)."""
    for cls in ResultCodeError.__subclasses__():
        if cls.code == code:
            return cls
    return _code(code, CODES.get(code, "Unknown result code"), f"Result{code:03d}")


def result(code: int, message: str | None = None) -> dict[str, object]:
    """A ``result`` object: ``{"code": code, "message": message}``."""
    return {"code": code, "message": message if message is not None else CODES.get(code, "")}


def accepts(expected: int, received: int) -> bool:
    """Whether ``received`` is an acceptable answer where the spec names ``expected``.

    "A more general code must always be accepted in parallel to the more specific code":
    for 011 also 000; for 181 also 180 and 100 (the class's general code, then its x00).
    """
    if received == expected:
        return True
    general = {expected - expected % 10, expected - expected % 100}
    return received in general
