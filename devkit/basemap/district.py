"""The demo district as GeoJSON, made by the project (no third-party map data).

A street grid laid through the demo's sites (devkit/demo/city.yaml): Xinhua Rd crosses
5th Ave at the police site, Renmin Rd crosses 2nd Ave at the traffic site; numbered
avenues run north-south, named roads east-west, the Jin river with its park in the
south-east, the G108 highway to the weigh station in the north-west, the bus depot east.
"""

from __future__ import annotations

from typing import Any

#: East-west roads: (name, latitude).
ROADS = [("Jinli Rd", 30.6498), ("Riverside Rd", 30.6542), ("Xinhua Rd", 30.6586),
         ("Heping Rd", 30.6608), ("Renmin Rd", 30.6630), ("Chunxi Rd", 30.6652),
         ("Dongfeng Rd", 30.6674), ("Depot Rd", 30.6702), ("Beixin Rd", 30.6740)]
#: North-south avenues: (name, longitude); 5th Ave through Xinhua, 2nd Ave through Renmin.
AVENUES = [(f"{n}{'st' if n == 1 else 'nd' if n == 2 else 'rd' if n == 3 else 'th'} Ave",
            round(104.0747 - (n - 1) * 0.00247, 5)) for n in range(1, 9)]
EAST_AVENUES = [("Xingfu Ave", 104.0800), ("Depot Ave", 104.0880), ("Dongcheng Ave", 104.0930)]
WEST, EAST, SOUTH, NORTH = 104.0530, 104.0960, 30.6480, 30.6760
MAJOR = {"Xinhua Rd", "Renmin Rd", "5th Ave", "2nd Ave", "Riverside Rd"}
#: The Jin river, west to east, south of Riverside Rd, and the G108 to the weigh station.
RIVER = [(104.0530, 30.6522), (104.0620, 30.6514), (104.0700, 30.6530), (104.0760, 30.6512),
         (104.0830, 30.6500), (104.0900, 30.6518), (104.0960, 30.6505)]
G108 = [(104.0160, 30.7080), (104.0233, 30.7012), (104.0380, 30.6880), (104.0480, 30.6760),
        (104.0530, 30.6700), (104.0550, 30.6630)]
PARK = [(104.0770, 30.6532), (104.0835, 30.6522), (104.0842, 30.6488), (104.0772, 30.6490)]
DEPOT = [(104.0885, 30.6708), (104.0925, 30.6708), (104.0925, 30.6690), (104.0885, 30.6690)]
WEIGH_STATION = [(104.0222, 30.7020), (104.0245, 30.7020), (104.0245, 30.7005),
                 (104.0222, 30.7005)]


def _feature(kind: str, geometry: dict[str, Any], **props: Any) -> dict[str, Any]:
    return {"type": "Feature", "properties": {"kind": kind, **props}, "geometry": geometry}


def _line(coords: list[tuple[float, float]]) -> dict[str, Any]:
    return {"type": "LineString", "coordinates": [list(c) for c in coords]}


def _area(coords: list[tuple[float, float]]) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [[list(c) for c in [*coords, coords[0]]]]}


def _blocks() -> list[dict[str, Any]]:
    """A city block in every cell of the grid north of the river, inset from its streets."""
    lons = sorted([lon for _, lon in AVENUES + EAST_AVENUES] + [WEST, EAST])
    lats = sorted([lat for _, lat in ROADS[1:]] + [NORTH])
    inset = 0.00022
    out = []
    for w, e in zip(lons, lons[1:], strict=False):
        for s, n in zip(lats, lats[1:], strict=False):
            if e - w > 3 * inset and n - s > 3 * inset:
                w2, e2, s2, n2 = w + inset, e - inset, s + inset, n - inset
                out.append(_feature("block", _area([(w2, n2), (e2, n2), (e2, s2), (w2, s2)])))
    return out


def district() -> dict[str, Any]:
    """The whole district as a GeoJSON FeatureCollection (WGS-84), drawn in list order."""
    features = [_feature("water", _line(RIVER), name="Jin River"),
                *_blocks(),
                _feature("park", _area(PARK), name="Riverside Park"),
                _feature("depot", _area(DEPOT), name="East Bus Depot"),
                _feature("depot", _area(WEIGH_STATION), name="G108 Weigh Station")]
    for name, lat in ROADS:
        features.append(_feature("major" if name in MAJOR else "street",
                                 _line([(WEST, lat), (EAST, lat)]), name=name))
    for name, lon in AVENUES + EAST_AVENUES:
        features.append(_feature("major" if name in MAJOR else "street",
                                 _line([(lon, SOUTH), (lon, NORTH)]), name=name))
    features.append(_feature("highway", _line(G108), name="G108"))
    return {"type": "FeatureCollection", "features": features}
