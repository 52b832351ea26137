"""Plane geometry in normalised image coordinates (x right, y down, both 0..1)."""

from __future__ import annotations

Point = tuple[float, float]


def cross(o: Point, a: Point, b: Point) -> float:
    """z of (a - o) x (b - o): > 0 when b lies on one side of o->a, < 0 on the other."""
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def inside(polygon: list[Point], p: Point) -> bool:
    """Ray casting; points on an edge may fall either way (irrelevant for moving objects)."""
    x, y = p
    hit = False
    n = len(polygon)
    for i in range(n):
        (x1, y1), (x2, y2) = polygon[i], polygon[(i + 1) % n]
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            hit = not hit
    return hit


def side(a: Point, b: Point, p: Point) -> int:
    """+1 or -1 for the two sides of the line through a->b, 0 exactly on it."""
    c = cross(a, b, p)
    return (c > 0) - (c < 0)


def spans(a: Point, b: Point, p: Point, q: Point) -> bool:
    """Whether the line through p, q meets the segment a-b (its ends included)."""
    sa, sb = side(p, q, a), side(p, q, b)
    return sa == 0 or sb == 0 or sa != sb
