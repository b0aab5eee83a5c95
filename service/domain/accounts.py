"""Roles, accounts, enrolments, and who may see or change what."""

from __future__ import annotations

import datetime as dt
import enum
import ipaddress
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from service.domain.errors import Problems
from service.domain.timezones import is_valid_timezone
from service.i18n import SUPPORTED_LOCALES


class NotificationPrivacy(enum.StrEnum):
    """What a push notification may show on a lock screen.

    `discreet` (the default) names no drug and no dose, and its data carries only ids:
    the app fetches the details once signed in. `detailed` names the drugs and doses.
    """

    DISCREET = "discreet"
    DETAILED = "detailed"


class Role(enum.StrEnum):
    ADMIN = "admin"
    CLINICIAN = "clinician"
    PATIENT = "patient"


STAFF_ROLES = (Role.ADMIN, Role.CLINICIAN)

# Fields a patient may change on their own record (who they are, and how they are
# told: language and what a notification shows); everything else on the record is
# clinical (allergies, pregnancy, date of birth) or identity (email) and is the care
# team's to edit.
PATIENT_EDITABLE_FIELDS = frozenset({"name", "timezone", "locale", "notification_privacy"})
ADMIN_EDITABLE_FIELDS = frozenset({"email"})
# How the patient is told (language, what a notification shows) is the patient's own
# choice: not the care team's, whose change would put drug names on their lock screen.
PATIENT_ONLY_FIELDS = frozenset({"locale", "notification_privacy"})
EARLIEST_BIRTH = dt.date(1900, 1, 1)
MAX_ALLERGIES = 100


@dataclass(frozen=True, kw_only=True)
class Principal:
    """The authenticated caller."""

    user_id: uuid.UUID
    role: Role
    patient_id: uuid.UUID | None = None


def can_read_patient(
    who: Principal, *, patient_id: uuid.UUID, care_team: Collection[uuid.UUID]
) -> bool:
    """Patients read themselves; clinicians the patients on their care team.

    Admins manage accounts and care teams but do not read clinical records.
    """
    if who.role is Role.PATIENT:
        return who.patient_id == patient_id
    if who.role is Role.CLINICIAN:
        return who.user_id in care_team
    return False


def can_view_patient_record(
    who: Principal, *, patient_id: uuid.UUID, care_team: Collection[uuid.UUID]
) -> bool:
    """The patient record (not prescriptions): its readers, plus admins who manage teams."""
    return who.role is Role.ADMIN or can_read_patient(
        who, patient_id=patient_id, care_team=care_team
    )


def sees_clinical_fields(who: Principal) -> bool:
    """Admins see who a patient is (to manage care teams), not their clinical details."""
    return who.role is not Role.ADMIN


def can_write_clinical(who: Principal, *, care_team: Collection[uuid.UUID]) -> bool:
    """Only a clinician on the patient's care team changes clinical records."""
    return who.role is Role.CLINICIAN and who.user_id in care_team


def can_record_supply(
    who: Principal, *, patient_id: uuid.UUID, care_team: Collection[uuid.UUID]
) -> bool:
    """A dispense or a count of what is left: the patient, who has the medicine in
    hand, or a clinician on the care team (docs/clinical.md, "Supply and refills")."""
    if who.role is Role.PATIENT:
        return who.patient_id == patient_id
    return can_write_clinical(who, care_team=care_team)


def forbidden_patient_fields(who: Principal, fields: Collection[str]) -> list[str]:
    """The fields of a patient update that this caller may not set.

    The e-mail address is the account's sign-in, and whether an address already has
    an account is not a clinician's to learn: administrators, who see every account,
    change it, and nothing else of the record."""
    if who.role is Role.PATIENT:
        return sorted(set(fields) - PATIENT_EDITABLE_FIELDS)
    if who.role is Role.ADMIN:
        return sorted(set(fields) - ADMIN_EDITABLE_FIELDS)
    return sorted(set(fields) & (ADMIN_EDITABLE_FIELDS | PATIENT_ONLY_FIELDS))


def may_issue_password_reset(
    who: Principal, *, target_role: Role, care_team: Collection[uuid.UUID] = ()
) -> bool:
    """Admins reset anyone's password; a clinician only that of a patient on their team.

    A reset hands over the account, so it follows who may hand out an activation code.
    """
    if who.role is Role.ADMIN:
        return True
    return who.role is Role.CLINICIAN and target_role is Role.PATIENT and who.user_id in care_team


def client_group(address: str | None) -> str | None:
    """The unit a client is counted in: an IPv4 address, or an IPv6 /64.

    One IPv6 subscriber is usually given a whole /64 (RFC 6177), so counting single
    addresses would let them rotate through 2^64 of them; an IPv4-mapped address
    (::ffff:a.b.c.d, from a dual-stack socket) is the IPv4 client it stands for.
    """
    if not address:
        return None
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


@dataclass(frozen=True, kw_only=True)
class LoginBackoff:
    """Progressive delays for one account from one client.

    After `free` failures in a row the next attempt waits `base_seconds`, and each
    further failure doubles the wait, up to `max_seconds`. Only that client waits:
    the owner elsewhere is never held up by someone else's guesses.
    """

    free: int
    base_seconds: int = 1
    max_seconds: int = 900

    def delay_after(self, failures: int) -> int:
        """Seconds the next attempt waits after this many failures in a row."""
        beyond = failures - self.free
        if beyond < 0:
            return 0
        # Capped before the power, so a long run of failures cannot overflow.
        wait: int = self.base_seconds * 2 ** min(beyond, 32)
        return min(wait, self.max_seconds)


@dataclass(frozen=True, kw_only=True)
class AccountState:
    """The two facts about an account that decide what its holder may do.

    `activated`: it has a password (an activation code sets the first one);
    `active`: an administrator has not turned it off.
    """

    activated: bool
    active: bool

    def may_sign_in(self) -> bool:
        return self.activated and self.active

    def may_get_reset_code(self) -> bool:
        """A reset replaces a password: an account that never had one is opened by
        its activation code instead."""
        return self.activated


def may_join_care_team(role: Role, *, active: bool) -> bool:
    """Only a clinician whose account is on joins a care team."""
    return role is Role.CLINICIAN and active


class EnrolmentStatus(enum.StrEnum):
    """Where a clinician's enrolment of someone stands."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    EXPIRED = "expired"


def enrolment_status(
    *, accepted_at: dt.datetime | None, expires_at: dt.datetime, now: dt.datetime
) -> EnrolmentStatus:
    """Accepted once the person said yes, whenever that was; until then pending,
    and expired from the moment its code stops working."""
    if accepted_at is not None:
        return EnrolmentStatus.ACCEPTED
    if expires_at <= now:
        return EnrolmentStatus.EXPIRED
    return EnrolmentStatus.PENDING


def may_accept_invitation(
    who: Principal, *, invited_user_id: uuid.UUID | None, expires_at: dt.datetime, now: dt.datetime
) -> bool:
    """Only the invited account accepts, as a patient (the clinician joins the care
    team of their record), and only before the invitation expires."""
    return who.role is Role.PATIENT and invited_user_id == who.user_id and now < expires_at


class SessionEnd(enum.StrEnum):
    """Why a session was ended (stored with it)."""

    LOGOUT = "logout"
    LOGOUT_ALL = "logout-all"
    PASSWORD_CHANGE = "password-change"  # noqa: S105
    PASSWORD_RESET = "password-reset"  # noqa: S105
    REFRESH_REUSE = "refresh-reuse"
    DEACTIVATED = "deactivated"
    REACTIVATED = "reactivated"


class NoticeKind(enum.StrEnum):
    """What a notice to an account's owner (GET /v1/me/notices) is about."""

    LOGIN_FAILURES = "login-failures"
    PASSWORD_CHANGED = "password-changed"  # noqa: S105
    PASSWORD_RESET = "password-reset"  # noqa: S105
    REFRESH_REUSE = "refresh-reuse"


class DeviceRemoval(enum.StrEnum):
    """Why a device stopped receiving messages (stored with it)."""

    REMOVED = "removed"  # by its owner
    GONE = "gone"  # the push service no longer knows it


def check_patient_fields(values: Mapping[str, Any], *, today: dt.date) -> None:
    """Raise DomainValidationError naming every given field of a patient record
    that is not valid (fields not given are not checked)."""
    problems = Problems()
    if "timezone" in values and not is_valid_timezone(values["timezone"]):
        problems.add("timezone", "Unknown time zone; use an IANA name such as Europe/London.")
    dob = values.get("date_of_birth")
    if dob is not None and not EARLIEST_BIRTH <= dob <= today:
        problems.add("date_of_birth", f"Must be between {EARLIEST_BIRTH} and today.")
    if "name" in values and not str(values["name"]).strip():
        problems.add("name", "Must not be blank.")
    if "locale" in values and values["locale"] not in SUPPORTED_LOCALES:
        problems.add("locale", f"Use one of: {', '.join(SUPPORTED_LOCALES)}.")
    privacy = values.get("notification_privacy")
    if "notification_privacy" in values and privacy not in set(NotificationPrivacy):
        choices = ", ".join(p.value for p in NotificationPrivacy)
        problems.add("notification_privacy", f"Use one of: {choices}.")
    allergies = values.get("allergies")
    if allergies is not None:
        if len(allergies) > MAX_ALLERGIES:
            problems.add("allergies", f"At most {MAX_ALLERGIES} entries.")
        if any(not a.strip() for a in allergies):
            problems.add("allergies", "Entries must not be blank.")
    problems.raise_if_any()


def normalise_patient_fields(values: Mapping[str, Any]) -> dict[str, Any]:
    """Names and allergies trimmed, the e-mail lower-cased (it is the sign-in), and
    allergies listed once whatever their case, as first spelt."""
    out = dict(values)
    if "name" in out:
        out["name"] = out["name"].strip()
    if "email" in out:
        out["email"] = out["email"].strip().lower()
    if "allergies" in out:
        seen: dict[str, str] = {}
        for a in out["allergies"]:
            seen.setdefault(a.strip().lower(), a.strip())
        out["allergies"] = list(seen.values())
    return out
