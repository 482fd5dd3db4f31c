"""The exception every path raises for a document it cannot understand."""

from __future__ import annotations

from fwjr.model import Rejection


class RejectedDocument(Exception):
    """A document was understood to be unusable; carries the reason for the DLQ and logs."""

    def __init__(self, reason: str, field: str, value: object, source: str = "") -> None:
        shown = repr(value)
        if len(shown) > 200:
            shown = shown[:200] + "..."
        self.rejection = Rejection(reason=reason, field=field, value=shown, source=source)
        super().__init__(self.rejection.message())

    def at(self, source: str) -> "RejectedDocument":
        """The same rejection, told where the document came from."""
        self.rejection.source = source
        self.args = (self.rejection.message(),)
        return self
