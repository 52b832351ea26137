"""Gross-mass limits of goods vehicles, GB 1589-2016 4.3 table 3 (表3) and its notes.

Pure data and functions, so that the limit an overload record was judged against
can be read and audited in one place. Values in kilograms. The rules, with the
text they come from, are listed in adapters/docs/wim.md.

Where a record does not say something the limit depends on (tyres, suspension,
drive axles), the limit is the highest one the known facts allow and the
assumption is named: an overweight verdict never rests on a guess against the
driver.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

VehicleForm = Literal["rigid", "combination"]
#: How a vehicle is built, in table 3's rows.
Configuration = Literal["truck", "articulated", "centre_axle_train", "full_trailer_train"]
Unit = Literal["truck", "tractor", "semitrailer", "trailer", "centre_axle_trailer"]

#: Table 3, (axle count, configuration) -> maximum permissible gross mass.
TABLE_3: dict[tuple[int, Configuration], int] = {
    (2, "truck"): 18_000,
    (3, "truck"): 25_000,
    (3, "centre_axle_train"): 27_000,
    (3, "articulated"): 27_000,
    (4, "truck"): 31_000,
    (4, "centre_axle_train"): 35_000,
    (4, "articulated"): 36_000,
    (4, "full_trailer_train"): 36_000,
    (5, "centre_axle_train"): 43_000,
    (5, "articulated"): 43_000,
    (5, "full_trailer_train"): 43_000,
    (6, "centre_axle_train"): 49_000,
    (6, "articulated"): 49_000,
    (6, "full_trailer_train"): 49_000,
}
#: Table 3 note: 3- and 4-axle trucks gain 1 t with dual-tyre drive axles on air suspension.
AIR_SUSPENSION_BONUS = 1_000
#: Table 3 note: 4-axle articulated, dual-tyre drive axle on air suspension, semitrailer
#: axle spacing d >= 1800 mm.
ARTICULATED_4_AIR = 37_000
SEMITRAILER_SPACING_MM = 1_800
#: The enforcement annex lists the 4-axle centre-axle train at 35 t and, drawn with the
#: same dual-tyre air-suspension drive axle and a trailer tandem at d >= 1800 mm, at 36 t.
CENTRE_AXLE_4_AIR = 36_000
#: 4-axle trains whose limit a note raises: configuration -> (towed unit, raised limit).
FOUR_AXLE_AIR: dict[Configuration, tuple[Unit, int]] = {
    "articulated": ("semitrailer", ARTICULATED_4_AIR),
    "centre_axle_train": ("centre_axle_trailer", CENTRE_AXLE_4_AIR),
}
#: Table 3 note: 6 or more axles, towing vehicle with a single drive axle.
SIX_AXLE_SINGLE_DRIVE = 46_000
#: Notes: a single-tyre non-drive axle of an axle group or of a (semi)trailer, each.
SINGLE_TYRE_REDUCTION = 3_000
#: Wide-base tyres of at least this nominal section width are not reduced.
WIDE_TYRE_MM = 425
#: A drive axle's wide-base single tyres of at least this width count as dual (enforcement
#: annex of 交通运输部令2016年第62号, note 3: such trucks' limits are not reduced).
WIDE_DRIVE_TYRE_MM = 445


@dataclass(frozen=True)
class Axle:
    """One axle as a station records it; ``None`` means the station did not say."""

    unit: Unit
    group: int  #: index of its axle group (single, tandem, tridem) in the vehicle
    weight_kg: float | None = None
    tyres_per_side: int | None = None
    drive: bool | None = None
    steer: bool = False
    air_suspension: bool | None = None
    tyre_width_mm: int | None = None
    spacing_mm: int | None = None  #: distance to the next axle of the same group


@dataclass(frozen=True)
class Limit:
    """The limit a vehicle was judged against, with the rules and assumptions behind it."""

    kg: int
    configuration: Configuration
    rules: list[str] = field(default_factory=list)
    assumptions: list[str] = field(default_factory=list)


def configuration_of(units: Sequence[Unit]) -> Configuration:
    """Table 3's row for the units a vehicle is made of."""
    kinds = set(units)
    if kinds <= {"truck"}:
        return "truck"
    if "tractor" in kinds or "semitrailer" in kinds:
        return "articulated"
    if "centre_axle_trailer" in kinds:
        return "centre_axle_train"
    return "full_trailer_train"


def base_limit(axle_count: int, configuration: Configuration) -> int:
    """Table 3's limit before its notes apply (6 or more axles read as 6)."""
    if axle_count < 2:
        raise ValueError("a goods vehicle has at least two axles")
    if axle_count == 2:
        return TABLE_3[(2, "truck")]
    if configuration == "truck" and axle_count > 4:
        # Table 3 lists rigid trucks up to four axles; heavier rigid configurations are
        # judged by the highest row for their axle count (never a guess against the driver).
        configuration = "articulated"
    key = (min(axle_count, 6), configuration)
    if key not in TABLE_3:  # e.g. a 3-axle full-trailer train: the table's highest row
        return max(v for (n, _), v in TABLE_3.items() if n == min(axle_count, 6))
    return TABLE_3[key]


def legal_limit_kg(axle_count: int, form: VehicleForm) -> float:
    """Table 3's limit for the simple (axle count, rigid/combination) record, notes not applied."""
    return float(base_limit(axle_count, "truck" if form == "rigid" else "articulated"))


def _drive_axles(axles: Sequence[Axle]) -> list[Axle]:
    return [a for a in axles if a.unit in ("truck", "tractor") and a.drive]


def _tyres(a: Axle) -> int | None:
    """Tyres per side, a drive axle's wide-base single tyre (>= 445 mm) counted as dual."""
    wide = a.tyre_width_mm is not None and a.tyre_width_mm >= WIDE_DRIVE_TYRE_MM
    return 2 if a.tyres_per_side == 1 and a.drive and wide else a.tyres_per_side


def _dual_air(drive: Sequence[Axle]) -> bool | None:
    """Drive axles all dual-tyred on air suspension: True, False, or None when not recorded."""
    if not drive:
        return None
    known = [(_tyres(a), a.air_suspension) for a in drive]
    if any(t == 1 or air is False for t, air in known):
        return False
    if all(t == 2 and air is True for t, air in known):
        return True
    return None


def _reduction(axles: Sequence[Axle]) -> tuple[int, list[str], list[str]]:
    """Minus 3 t for each single-tyre non-drive axle of an axle group or a (semi)trailer."""
    sizes: dict[tuple[Unit, int], int] = {}
    for a in axles:
        sizes[(a.unit, a.group)] = sizes.get((a.unit, a.group), 0) + 1
    kg, rules, assumed = 0, [], []
    for i, a in enumerate(axles, 1):
        towed = a.unit in ("semitrailer", "trailer", "centre_axle_trailer")
        in_group = sizes[(a.unit, a.group)] >= 2
        if a.drive or a.steer or not (towed or in_group):
            continue
        if a.tyres_per_side is None:
            assumed.append(f"axle {i}: tyres per side not recorded, taken as dual")
        elif a.tyres_per_side == 1:
            if a.tyre_width_mm is not None and a.tyre_width_mm >= WIDE_TYRE_MM:
                rules.append(f"axle {i}: single wide-base tyre >= {WIDE_TYRE_MM} mm, no reduction")
            else:
                kg += SINGLE_TYRE_REDUCTION
                rules.append(f"axle {i}: single-tyre non-drive axle, -{SINGLE_TYRE_REDUCTION} kg")
    return kg, rules, assumed


def _spaced_pair(axles: Sequence[Axle], unit: Unit, dual_air: bool | None,
                 assumed: list[str]) -> bool:
    """The 4-axle train note's condition: dual-tyre drive axle on air suspension and the
    towed unit's two axles at d >= 1800 mm (what is not recorded is taken as met)."""
    towed = [a for a in axles if a.unit == unit]
    spacing = towed[0].spacing_mm if len(towed) == 2 else None
    if len(towed) == 2 and spacing is None:
        assumed.append(f"{unit} axle spacing not recorded, taken as >= 1800 mm")
    if len(towed) == 2 and dual_air is None:
        assumed.append("drive axle tyres/suspension not recorded: 4-axle train note applied")
    spaced = len(towed) == 2 and (spacing is None or spacing >= SEMITRAILER_SPACING_MM)
    return spaced and dual_air is not False


def limit_for(axles: Sequence[Axle]) -> Limit:
    """The gross-mass limit of a vehicle described axle by axle (table 3 and every note)."""
    n = len(axles)
    config = configuration_of([a.unit for a in axles])
    kg = base_limit(n, config)
    rules = [f"table 3: {n} axles, {config}: {kg} kg"]
    assumed: list[str] = []
    drive = _drive_axles(axles)
    dual_air = _dual_air(drive)
    if config == "truck" and n in (3, 4):
        if dual_air is None:
            assumed.append("drive axle tyres/suspension not recorded: +1 t note applied")
        if dual_air is not False:
            kg += AIR_SUSPENSION_BONUS
            rules.append("note: dual-tyre drive axle on air suspension, +1000 kg")
    elif config in FOUR_AXLE_AIR and n == 4:
        unit, note_kg = FOUR_AXLE_AIR[config]
        if _spaced_pair(axles, unit, dual_air, assumed):
            kg = note_kg
            rules.append(f"note: dual-tyre drive axle on air suspension, {unit} d >= 1800 mm: "
                         f"{note_kg} kg")
    elif config != "truck" and n >= 6:
        towing = [a for a in axles if a.unit in ("truck", "tractor") and not a.steer]
        if not drive or any(a.drive is None for a in towing):
            assumed.append("drive axles not recorded: towing vehicle taken as multi-drive")
        elif len(drive) == 1:
            kg = SIX_AXLE_SINGLE_DRIVE
            rules.append("note: 6+ axles, towing vehicle with a single drive axle: 46000 kg")
    minus, minus_rules, minus_assumed = _reduction(axles)
    return Limit(kg - minus, config, rules + minus_rules, assumed + minus_assumed)


def excess_ratio(gross_kg: float, limit_kg: float) -> float:
    """(gross - limit) / limit when over the limit, else 0."""
    return max(0.0, (gross_kg - limit_kg) / limit_kg)
