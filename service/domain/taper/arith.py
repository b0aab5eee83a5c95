"""Exact arithmetic helpers: every dose is a Fraction while planning, a Decimal outside.

Doses made from decimal strengths, halves and quarters of tablets and decimal
volumes of liquids always have a denominator made of 2s and 5s, so they convert to
a Decimal exactly; nothing here goes through float.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_EVEN, Context, Decimal
from fractions import Fraction

# Planning runs under this context whatever the caller's, so that the hyperbolic
# model's divisions (the only inexact Decimal operations) give the same digits on
# every call: the same input always yields the same plan.
PLAN_CONTEXT = Context(prec=28, rounding=ROUND_HALF_EVEN)


def to_decimal(value: Fraction) -> Decimal:
    """The exact Decimal of a fraction whose denominator has only the factors 2 and 5."""
    den = value.denominator
    twos = fives = 0
    while den % 2 == 0:
        den //= 2
        twos += 1
    while den % 5 == 0:
        den //= 5
        fives += 1
    if den != 1:
        raise ValueError(f"{value} has no exact decimal form")
    places = max(twos, fives)
    scaled = value.numerator * 10**places // value.denominator
    return plain(Decimal(scaled).scaleb(-places, PLAN_CONTEXT))


def plain(value: Decimal) -> Decimal:
    """The same number without trailing zeros, exponent or sign of zero (10, not 1E+1)."""
    if value.is_zero():
        return Decimal(0)
    normal = value.normalize(PLAN_CONTEXT)
    if normal.as_tuple().exponent > 0:  # type: ignore[operator]
        normal = normal.quantize(Decimal(1), context=PLAN_CONTEXT)
    return normal


def text(value: Decimal) -> str:
    """A Decimal as the canonical string used in labels, warnings and JSON ("7.5", "10")."""
    return format(plain(value), "f")


def round_tenth(value: Fraction) -> Decimal:
    """A percentage rounded to 0.1, half up (a half-way cut is shown as the larger one)."""
    tenths = math.floor(value * 10 + Fraction(1, 2))
    return Decimal(tenths).scaleb(-1, PLAN_CONTEXT)


def fraction_gcd(a: Fraction, b: Fraction) -> Fraction:
    """The largest fraction that divides both (every dose is a multiple of it)."""
    num = math.gcd(a.numerator * b.denominator, b.numerator * a.denominator)
    return Fraction(num, a.denominator * b.denominator)
