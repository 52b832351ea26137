"""Legal gross-mass limits for goods vehicles by axle configuration (GB 1589-2016, 4.3).

Pure data and one function, so that the limit an overload record was judged
against can be read and audited in one place. Values in kilograms.
"""

from __future__ import annotations

from typing import Literal

VehicleForm = Literal["rigid", "combination"]

#: (axle count, form) -> maximum permissible gross mass. Combination = tractor with
#: semi-trailer or a road train; rigid = single-unit truck.
LIMITS_KG: dict[tuple[int, VehicleForm], float] = {
    (2, "rigid"): 18_000,
    (3, "rigid"): 25_000,
    (3, "combination"): 27_000,
    (4, "rigid"): 31_000,  # twin steering axles
    (4, "combination"): 36_000,
    (5, "combination"): 43_000,
    (6, "combination"): 49_000,
}
#: Vehicles with six or more axles may not exceed 49 t whatever their configuration.
MAX_KG = 49_000


def legal_limit_kg(axle_count: int, form: VehicleForm) -> float:
    """The gross-mass limit for this configuration (5+ axles are combinations by construction)."""
    if axle_count < 2:
        raise ValueError("a goods vehicle has at least two axles")
    if axle_count >= 6:
        return MAX_KG
    if axle_count == 5:
        return LIMITS_KG[(5, "combination")]
    if axle_count == 2:
        return LIMITS_KG[(2, "rigid")]
    return LIMITS_KG[(axle_count, form)]


def excess_ratio(gross_kg: float, limit_kg: float) -> float:
    """(gross - limit) / limit when over the limit, else 0."""
    return max(0.0, (gross_kg - limit_kg) / limit_kg)
