class DomainError(Exception):
    """A refusal the user should read: the message is shown as is (UI) or as ``detail`` (API)."""

    status_code = 400
    code = "invalid"

    def __init__(self, message: str, *, code: str | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class Conflict(DomainError):
    """The request is valid but the case is not in a state that allows it (HTTP 409)."""

    status_code = 409
    code = "conflict"
