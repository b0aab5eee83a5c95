"""Roles and who may see or change what."""

from __future__ import annotations

import enum
import ipaddress
import uuid
from collections.abc import Collection
from dataclasses import dataclass


class Role(enum.StrEnum):
    ADMIN = "admin"
    CLINICIAN = "clinician"
    PATIENT = "patient"


STAFF_ROLES = (Role.ADMIN, Role.CLINICIAN)

# Fields a patient may change on their own record; everything else on the
# record is clinical (allergies, pregnancy, date of birth) or identity (email)
# and is the care team's to edit.
PATIENT_EDITABLE_FIELDS = frozenset({"name", "timezone"})
ADMIN_EDITABLE_FIELDS = frozenset({"email"})


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


def forbidden_patient_fields(who: Principal, fields: Collection[str]) -> list[str]:
    """The fields of a patient update that this caller may not set.

    The e-mail address is the account's sign-in, and whether an address already has
    an account is not a clinician's to learn: administrators, who see every account,
    change it, and nothing else of the record."""
    if who.role is Role.PATIENT:
        return sorted(set(fields) - PATIENT_EDITABLE_FIELDS)
    if who.role is Role.ADMIN:
        return sorted(set(fields) - ADMIN_EDITABLE_FIELDS)
    return sorted(set(fields) & ADMIN_EDITABLE_FIELDS)


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
