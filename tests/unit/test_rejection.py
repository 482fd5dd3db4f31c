"""A rejection names itself the same way in every process that dead-letters (worker, alerter, status history)."""

from __future__ import annotations

from fwjr.model import Rejection


def test_the_label_is_the_reason_up_to_its_details() -> None:
    def label(reason: str) -> str:
        return Rejection(reason=reason, field="", value="", source="").label()

    assert label("invalid JSON: unexpected end of data: line 1") == "invalid JSON"
    assert label("unknown state (expected one of up, down)") == "unknown state"
    assert label("not a job report: no steps") == "not a job report"
    assert label("") == "unknown"


def test_the_dead_letter_headers_carry_reason_field_and_source() -> None:
    rejection = Rejection(reason="meta_data.ts is not a positive epoch time", field="meta_data.ts", value="''", source="fwjr.raw/1@49")
    assert rejection.dlq_headers() == [("reason", b"meta_data.ts is not a positive epoch time"), ("field", b"meta_data.ts"),
                                       ("source", b"fwjr.raw/1@49")]
