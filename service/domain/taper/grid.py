"""Which daily doses the formulations make, and what to take at each time of day.

Doses are counted in grid units: `unit` mg is the largest amount dividing every
tablet part and every liquid syringe step, so every achievable dose is a whole
number of units, and a set of doses is a Python int used as a bitset (bit x set:
x units achievable).

Preferences, in order, when one administration can be made several ways:
1. the least liquid: tablets make what they can and a liquid only the rest, since a
   measured volume is slower and less exact to take than a tablet;
2. the fewest pieces (a whole tablet, a broken tablet or one measured volume each);
3. the fewest broken tablets (whole tablets first);
4. the fewest different formulations;
5. then a fixed order that favours larger tablets and the most dilute liquid.
At most one liquid and at most one broken tablet of each strength are used in an
administration (a broken tablet is a half, a quarter or three quarters of one), and
a liquid is never taken with a broken tablet: a measured volume with whole tablets,
or the volume alone.

A daily dose is shared across the administrations as evenly as achievable: the
largest share as small as possible, then the smallest as large as possible, then
the next smallest, and so on. A share may be 0 (nothing at that time) when nothing
more even exists: 2.5 mg in two from halves of 2 and 5 mg tablets is 0 + 2.5.
The planner gives the larger shares to the time the clinician chose (the first, by
default), never more at any time than the step before.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from fractions import Fraction

from service.domain.taper.arith import fraction_gcd, to_decimal
from service.domain.taper.formulations import Liquid, Tablet
from service.domain.taper.plan import Component

# More levels than this means a grid far finer than any syringe or pill cutter,
# or a typing slip; refusing it keeps planning time bounded.
MAX_LEVELS = 20_000

# (pieces, broken tablets, formulations used, parts of each tablet): parts are
# halves for a tablet divisible by 2, quarters for 4, wholes for 1.
_Entry = tuple[int, int, int, tuple[int, ...]]
# (liquid units, pieces, broken tablets, formulations used): smaller is preferred.
_Cost = tuple[int, int, int, int]


def grid_unit(tablets: Sequence[Tablet], liquids: Sequence[Liquid]) -> Fraction:
    """The largest amount in mg that divides every tablet part and liquid step."""
    parts = [Fraction(t.strength_mg) / t.divisible_by for t in tablets]
    parts += [Fraction(q.mg_per_ml) * Fraction(q.resolution_ml) for q in liquids]
    unit = parts[0]
    for part in parts[1:]:
        unit = fraction_gcd(unit, part)
    return unit


def units_of(dose_mg: Decimal, unit: Fraction) -> int | None:
    """A dose in grid units, or None when it is not a whole number of them."""
    count = Fraction(dose_mg) / unit
    return count.numerator if count.denominator == 1 else None


@dataclass(frozen=True, kw_only=True)
class _Mix:
    cost: _Cost
    parts: tuple[int, ...]
    liquid: tuple[int, int] | None  # (index, grid units) of the liquid, if any


class DoseGrid:
    """The achievable doses of a set of formulations taken at `administrations` times."""

    def __init__(
        self,
        *,
        tablets: tuple[Tablet, ...],
        liquids: tuple[Liquid, ...],
        administrations: int,
        unit: Fraction,
        size: int,
    ) -> None:
        self.unit = unit
        self.size = size
        self._tablets = tablets
        self._liquids = liquids
        self._count = administrations
        self._table = _tablet_table(tablets, unit, size)
        self._whole = _tablet_table([replace(t, divisible_by=1) for t in tablets], unit, size)
        self._steps = [_liquid_step(q, unit) for q in liquids]
        admin_bits = _bits(self._table)
        whole_bits = _bits(self._whole)
        for start, step in self._steps:
            admin_bits |= _progression_sum(whole_bits, start, step, size)
        self._admin = _members(admin_bits)
        self._daily = _daily_sums(admin_bits, self._admin, administrations, size)
        self._mixes: dict[int, _Mix] = {}
        self._splits: dict[int, tuple[int, ...]] = {}

    @property
    def administration_doses(self) -> list[int]:
        """Every amount one administration can take, ascending (0 included)."""
        return self._admin

    def tablets_only(self) -> DoseGrid | None:
        """The same grid made with the tablets alone, when there are both tablets and
        liquids; None otherwise."""
        if not self._tablets or not self._liquids:
            return None
        return DoseGrid(
            tablets=self._tablets,
            liquids=(),
            administrations=self._count,
            unit=self.unit,
            size=self.size,
        )

    def mg(self, units: int) -> Fraction:
        return units * self.unit

    def achievable(self, units: int) -> bool:
        """Whether this daily dose can be taken with the formulations at the given times."""
        return 0 <= units <= self.size and bool(self._daily >> units & 1)

    def upwards(self, low: int, high: int) -> Iterator[int]:
        """The achievable daily doses d with low <= d < high, smallest first."""
        low = max(low, 0)
        if low >= high:
            return
        window = (self._daily >> low) & ((1 << (high - low)) - 1)
        while window:
            lowest = window & -window
            yield low + lowest.bit_length() - 1
            window ^= lowest

    def downwards(self, low: int, high: int) -> Iterator[int]:
        """The achievable daily doses d with low <= d < high, largest first."""
        low = max(low, 0)
        if low >= high:
            return
        window = (self._daily >> low) & ((1 << (high - low)) - 1)
        while window:
            top = window.bit_length() - 1
            yield low + top
            window ^= 1 << top

    def components(self, units: int, *, liquid: bool = False) -> tuple[Component, ...]:
        """What to take for one administration of `units`, tablets before the liquid.

        `liquid`: in a plan's tail, a measured volume (with whole tablets at most) rather
        than broken tablets wherever the liquid can make the amount, so that the patient
        keeps to one way of taking it."""
        mix = (self._liquid_mix(units) if liquid else None) or self._mix(units)
        out = []
        for tablet, parts in zip(self._tablets, mix.parts, strict=True):
            if parts:
                count = Fraction(parts, tablet.divisible_by)
                dose = count * Fraction(tablet.strength_mg)
                out.append(
                    Component(
                        formulation=tablet.label,
                        units=to_decimal(count),
                        dose_mg=to_decimal(dose),
                    )
                )
        if mix.liquid is not None:
            measured = self._liquids[mix.liquid[0]]
            dose = self.mg(mix.liquid[1])
            ml = dose / Fraction(measured.mg_per_ml)
            out.append(
                Component(formulation=measured.label, ml=to_decimal(ml), dose_mg=to_decimal(dose))
            )
        return tuple(out)

    def split(self, total: int) -> tuple[int, ...]:
        """The daily dose shared across the administrations as evenly as achievable.

        Evenness: the largest share as small as possible; then the smallest share as
        large as possible, then the next smallest, and so on (leximin). The shares come
        back in ascending order: the caller places them among the times.
        """
        if total not in self._splits:
            self._splits[total] = self._split(total)
        return self._splits[total]

    def _split(self, total: int) -> tuple[int, ...]:
        if self._count == 1:
            return (total,)
        ceiling = self._smallest_largest_share(total)
        shares: list[int] = []
        remaining = total
        for left in range(self._count, 1, -1):
            low = shares[-1] if shares else 0
            share = self._largest_smallest_share(remaining, left, low, ceiling)
            shares.append(share)
            remaining -= share
        return (*shares, remaining)

    def _smallest_largest_share(self, total: int) -> int:
        """The least v such that `total` is a sum of `count` shares, none above v."""
        sums = _Sums(self._count, total)
        for dose in self._admin:
            sums.add(dose)
            if sums.reaches(self._count, total):
                return dose
        raise ValueError(f"{total} grid units are not achievable")

    def _largest_smallest_share(self, remaining: int, left: int, low: int, high: int) -> int:
        """The largest share v (low <= v <= remaining / left) such that the rest is a
        sum of left - 1 shares between v and high; found in one downward sweep."""
        sums = _Sums(left - 1, remaining)
        for i in range(bisect_right(self._admin, high) - 1, -1, -1):
            dose = self._admin[i]
            if dose < low:
                break
            sums.add(dose)
            if dose * left <= remaining and sums.reaches(left - 1, remaining - dose):
                return dose
        raise ValueError(f"{remaining} grid units cannot be shared by {left}")

    def _liquid_mix(self, units: int) -> _Mix | None:
        """Whole tablets alone, or the least liquid that completes whole tablets; None
        when neither makes the amount."""
        if not units or not self._liquids:
            return None
        whole = self._whole[units]
        if whole is not None:
            return _Mix(cost=(0, *whole[:3]), parts=self._scaled(whole[3]), liquid=None)
        return self._with_liquid(units)

    def _scaled(self, whole_parts: tuple[int, ...]) -> tuple[int, ...]:
        """Counts of whole tablets as counts of parts of each tablet."""
        return tuple(p * t.divisible_by for p, t in zip(whole_parts, self._tablets, strict=True))

    def _mix(self, units: int) -> _Mix:
        if units not in self._mixes:
            self._mixes[units] = self._best_mix(units)
        return self._mixes[units]

    def _best_mix(self, units: int) -> _Mix:
        """Tablets alone when they can; otherwise the least liquid that completes whole
        tablets."""
        entry = self._table[units]
        if entry is not None:
            return _Mix(cost=(0, *entry[:3]), parts=entry[3], liquid=None)
        best = self._with_liquid(units)
        if best is None:
            raise ValueError(f"{units} grid units are not achievable in one administration")
        return best

    def _with_liquid(self, units: int) -> _Mix | None:
        best: _Mix | None = None
        for index, (start, step) in enumerate(self._steps):
            for amount in range(start, units + 1, step):
                rest = self._whole[units - amount]
                if rest is not None:
                    cost = (amount, rest[0] + 1, rest[1], rest[2] + 1)
                    if best is None or cost < best.cost:
                        best = _Mix(cost=cost, parts=self._scaled(rest[3]), liquid=(index, amount))
                    break
        return best


class _Sums:
    """Sums of exactly k shares (k = 0..count) drawn, with repetition, from the doses
    added so far, as bitsets cut at `top`."""

    def __init__(self, count: int, top: int) -> None:
        self._mask = (1 << (top + 1)) - 1
        self._sums = [1] + [0] * count

    def add(self, dose: int) -> None:
        for k in range(1, len(self._sums)):
            self._sums[k] |= (self._sums[k - 1] << dose) & self._mask

    def reaches(self, count: int, total: int) -> bool:
        return bool(self._sums[count] >> total & 1)


def _tablet_table(tablets: Sequence[Tablet], unit: Fraction, size: int) -> list[_Entry | None]:
    """For every dose up to `size`, the preferred way to make it from tablets alone."""
    table: list[_Entry | None] = [None] * (size + 1)
    table[0] = (0, 0, 0, (0,) * len(tablets))
    for index, tablet in enumerate(tablets):
        table = _with_tablet(table, index, tablet, unit)
    return table


def _with_tablet(
    table: list[_Entry | None], index: int, tablet: Tablet, unit: Fraction
) -> list[_Entry | None]:
    """The table again, now allowing any number of whole tablets of one strength plus
    at most one broken one (two halves of one strength are a whole tablet)."""
    whole = int(Fraction(tablet.strength_mg) / unit)
    parts = tablet.divisible_by
    part = whole // parts
    used: list[_Entry | None] = [None] * len(table)
    for x in range(len(table)):
        best: _Entry | None = None
        for r in range(1, parts):
            if x >= r * part:
                best = _better(best, _plus(table[x - r * part], index, r, broken=1, new=1))
        if x >= whole:
            best = _better(best, _plus(table[x - whole], index, parts, broken=0, new=1))
            best = _better(best, _plus(used[x - whole], index, parts, broken=0, new=0))
        used[x] = best
    return [_better(old, new) for old, new in zip(table, used, strict=True)]


def _plus(entry: _Entry | None, index: int, parts: int, *, broken: int, new: int) -> _Entry | None:
    if entry is None:
        return None
    counts = list(entry[3])
    counts[index] += parts
    return (entry[0] + 1, entry[1] + broken, entry[2] + new, tuple(counts))


def _better(kept: _Entry | None, other: _Entry | None) -> _Entry | None:
    """The cheaper entry; on a tie the one already kept, which fixes the order."""
    if other is None or (kept is not None and kept[:3] <= other[:3]):
        return kept
    return other


def _bits(table: list[_Entry | None]) -> int:
    """The doses a table makes, as a bitset."""
    return int("".join("0" if e is None else "1" for e in reversed(table)), 2)


def _liquid_step(liquid: Liquid, unit: Fraction) -> tuple[int, int]:
    """(smallest amount, step) of a liquid in grid units; the smallest volume is the
    first syringe step at or above the minimum volume."""
    step = int(Fraction(liquid.mg_per_ml) * Fraction(liquid.resolution_ml) / unit)
    first = math.ceil(Fraction(liquid.min_volume_ml) / Fraction(liquid.resolution_ml))
    return max(first, 1) * step, step


def _progression_sum(bits: int, start: int, step: int, size: int) -> int:
    """{b + start + j*step : b in bits, j >= 0}, up to size, by doubling the shift."""
    mask = (1 << (size + 1)) - 1
    acc = (bits << start) & mask
    shift = step
    while shift <= size:
        acc |= (acc << shift) & mask
        shift *= 2
    return acc


def _members(bits: int) -> list[int]:
    """The set bits of `bits`, ascending."""
    return [x for x, b in enumerate(reversed(bin(bits)[2:])) if b == "1"]


def _daily_sums(admin_bits: int, admin: list[int], count: int, size: int) -> int:
    """Daily doses: sums of `count` administrations (any of which may be 0), up to size."""
    mask = (1 << (size + 1)) - 1
    daily = admin_bits
    for _ in range(2, count + 1):
        acc = 0
        for dose in admin:
            acc |= daily << dose
        daily = acc & mask
    return daily
