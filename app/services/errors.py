"""Typed errors that every service raises and every view translates.

Views map NotFound to 404, Forbidden to 403 and Invalid to a form with field
errors (HTML) or a 422 with the same errors (API).
"""


class ServiceError(Exception):
    status = 400

    def __init__(self, message: str = ""):
        super().__init__(message)
        self.message = message


class NotFound(ServiceError):
    """The record does not exist, or is outside the user's scope (the two look the same)."""

    status = 404


class Forbidden(ServiceError):
    status = 403


class AlreadyDone(ServiceError):
    """The form was submitted before (a double click, a reload): its work was done once, then."""

    status = 409


class Invalid(ServiceError):
    """One or more fields are wrong; `errors` maps each field to its messages."""

    status = 422

    def __init__(self, errors: dict[str, list[str] | str], message: str = "Please correct the errors below."):
        super().__init__(message)
        self.errors = {k: [v] if isinstance(v, str) else list(v) for k, v in errors.items()}

    def __str__(self) -> str:
        return "; ".join(f"{k}: {' '.join(v)}" for k, v in self.errors.items())

    @property
    def messages(self) -> str:
        """Every message, in one line (for a flash after a redirect)."""
        return " ".join(m for ms in self.errors.values() for m in ms)


class FieldErrors:
    """Collects field errors so a service can report all of them at once."""

    def __init__(self):
        self.errors: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.errors.setdefault(field, []).append(message)

    def __contains__(self, field: str) -> bool:
        return field in self.errors

    def raise_if_any(self) -> None:
        if self.errors:
            raise Invalid(self.errors)
