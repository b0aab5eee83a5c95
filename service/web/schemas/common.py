"""Fields and schemas shared by several resources."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from service.domain.prescriptions import EARLIEST_START, LATEST_DATE

MAX_PAGE = 200
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class StrictSchema(ma.Schema):
    """Unknown fields are an error, never silently dropped."""

    class Meta:
        unknown = ma.RAISE


def _no_control_chars(value: str) -> None:
    if _CONTROL.search(value):
        raise ma.ValidationError("Must not contain control characters.")
    _encodable(value)


def _encodable(value: str) -> None:
    # JSON can carry lone UTF-16 surrogates ("\ud800") that no database or hash accepts.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ma.ValidationError("Must be valid Unicode text.") from None


def text(*, max_length: int, min_length: int = 1, **kwargs: Any) -> fields.String:
    """A bounded string without control characters (which some databases refuse)."""
    return fields.String(
        validate=[validate.Length(min=min_length, max=max_length), _no_control_chars], **kwargs
    )


def email(**kwargs: Any) -> fields.Email:
    return fields.Email(validate=[validate.Length(max=254), _no_control_chars], **kwargs)


class ClockTime(fields.String):
    """A local wall-clock time of day, HH:MM (24-hour)."""

    def __init__(self, **kwargs: Any) -> None:
        metadata = {"pattern": _HHMM.pattern, "example": "08:00", **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else value.strftime("%H:%M")

    def _deserialize(  # type: ignore[override]
        self, value: Any, attr: str | None, data: Any, **kwargs: Any
    ) -> dt.time:
        raw = super()._deserialize(value, attr, data, **kwargs)
        if not _HHMM.fullmatch(raw):
            raise ma.ValidationError("Not a valid time; use HH:MM from 00:00 to 23:59.")
        return dt.time.fromisoformat(raw)


class Instant(fields.AwareDateTime):
    """An ISO 8601 instant with an offset, within the years the service deals in
    (out-of-range years would overflow date arithmetic further on)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dt.datetime:
        instant = super()._deserialize(value, attr, data, **kwargs)
        low = dt.datetime.combine(EARLIEST_START, dt.time(0), dt.UTC)
        high = dt.datetime.combine(LATEST_DATE, dt.time(23, 59, 59), dt.UTC)
        try:
            within = low <= instant.astimezone(dt.UTC) <= high
        except OverflowError:
            within = False
        if not within:
            raise ma.ValidationError(f"Must be between {EARLIEST_START} and {LATEST_DATE}.")
        return instant


# A plain calendar date, and an instant whose "+" offset a client left unencoded in a
# query string (where "+" decodes to a space): "2026-12-05T08:00:00 01:00" can only
# have meant +01:00, since a negative offset keeps its "-".
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_UNENCODED_PLUS = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}:?\d{2})")


class InstantOrDate(fields.DateTime):
    """A window's bound: an instant with an offset, or a plain date that the use case
    reads in the patient's time zone (README, "Conventions")."""

    # Longer than any ISO 8601 instant with microseconds and an offset.
    MAX_LENGTH = 40

    def __init__(self, **kwargs: Any) -> None:
        # Either form: a generator should offer a string, not a date-time only.
        metadata = {"format": "date-or-date-time", **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)
        self._instant = Instant()

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else value.isoformat()

    def _deserialize(  # type: ignore[override]
        self, value: Any, attr: str | None, data: Any, **kwargs: Any
    ) -> dt.datetime | dt.date:
        if not isinstance(value, str) or len(value) > self.MAX_LENGTH:
            raise ma.ValidationError("Not a valid date or instant.")
        if _DATE.fullmatch(value):
            try:
                day = dt.date.fromisoformat(value)
            except ValueError:
                raise ma.ValidationError("Not a valid date.") from None
            if not EARLIEST_START <= day <= LATEST_DATE:
                raise ma.ValidationError(f"Must be between {EARLIEST_START} and {LATEST_DATE}.")
            return day
        repaired = _UNENCODED_PLUS.fullmatch(value)
        raw = f"{repaired[1]}+{repaired[2]}" if repaired else value
        try:
            return self._instant.deserialize(raw)
        except ma.ValidationError as exc:
            if any(str(m).startswith("Must be between") for m in exc.messages):
                raise
            raise ma.ValidationError(
                "Not a valid date or instant: give a date (2026-12-05) or an instant with "
                "an offset (2026-12-05T08:00:00Z, or +01:00 sent as %2B01:00)."
            ) from None


class Number(fields.Float):
    """A JSON number: strings and booleans are refused rather than converted."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ma.ValidationError("Not a valid number.")
        return super()._deserialize(value, attr, data, **kwargs)


class Flag(fields.Boolean):
    """A JSON boolean: "yes", 1 and "true" are refused rather than interpreted."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise ma.ValidationError("Not a valid boolean; use true or false.")
        return value


def whole_number(**kwargs: Any) -> fields.Integer:
    """A JSON integer: 1.5 and "2" are refused rather than truncated or parsed."""
    return fields.Integer(strict=True, **kwargs)


def password(**kwargs: Any) -> fields.String:
    # Length rules live in the use case so the CLI applies them too; this bound
    # only keeps absurd bodies away from the hasher.
    return fields.String(
        validate=[validate.Length(min=1, max=1024), _encodable], load_only=True, **kwargs
    )


class PageQuery(StrictSchema):
    limit = fields.Integer(
        load_default=50,
        validate=validate.Range(min=1, max=MAX_PAGE),
        metadata={"description": f"Page size (at most {MAX_PAGE})."},
    )
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=1_000_000))


class ReasonSchema(StrictSchema):
    reason = text(max_length=2000, required=True, metadata={"description": "Why (audited)."})


def abrupt_stop_reason() -> fields.String:
    return text(
        max_length=2000,
        load_default=None,
        metadata={
            "description": "Required to stop a withdrawal-risk drug (benzodiazepines, "
            "antidepressants, opioids...) without an approved taper plan, or to cut its daily "
            "dose by more than one taper step (25 %): why it must happen now. Stored on the "
            "version and audited (prescription.abrupt-stop-override)."
        },
    )


class DiscontinueSchema(ReasonSchema):
    abrupt_stop_reason = abrupt_stop_reason()


class PauseSchema(ReasonSchema):
    resume_on = fields.Date(
        load_default=None,
        metadata={
            "description": "The local date the scheduler resumes the prescription. Without "
            "it a withdrawal-risk drug is stopped for as long as the pause lasts, which needs "
            "abrupt_stop_reason."
        },
    )
    abrupt_stop_reason = abrupt_stop_reason()
