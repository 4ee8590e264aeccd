"""Service-area shapes for the public outage map, drawn server-side as inline SVG.

Stdlib only: the status page must render with no tile server, no third party and
no GIS library, so the shapes ship as a small GeoJSON file and the projection is
a plain equirectangular one, good enough at the scale of mainland France.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "data" / "areas.geojson"

AREA_CLASSES = frozenset({"URBAN", "RURAL"})
OUTLINE_KIND = "outline"

_CODE_RE = re.compile(r"^[A-Z0-9]+(?:-[A-Z0-9]+)*$")
_POSTCODE_RE = re.compile(r"^\d{5}$")

Point = tuple[float, float]
Ring = tuple[Point, ...]


@dataclass(frozen=True)
class AreaShape:
    code: str
    name: str
    postcodes: tuple[str, ...]
    area_class: str
    ring: Ring  # (lon, lat), closed: ring[0] == ring[-1]


def load_areas(path: str | Path | None = None) -> list[AreaShape]:
    """Service areas from the GeoJSON file (the shipped one by default), outline excluded.

    Raises ValueError naming the offending feature, so a bad data edit fails
    loudly at load time rather than drawing a broken map.
    """
    areas: list[AreaShape] = []
    owner_of_postcode: dict[str, str] = {}
    codes: set[str] = set()
    for index, feature in enumerate(_features(path)):
        props = feature["properties"]
        if props.get("kind") == OUTLINE_KIND:
            continue
        label = f"feature #{index}"
        code = props.get("code")
        if not isinstance(code, str) or not _CODE_RE.match(code):
            raise ValueError(f"{label}: code must be uppercase ASCII with hyphens, got {code!r}")
        label = f"area {code}"
        if code in codes:
            raise ValueError(f"{label}: code is used by more than one area")
        codes.add(code)
        name = props.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"{label}: name is missing")
        area_class = props.get("area_class")
        if area_class not in AREA_CLASSES:
            raise ValueError(
                f"{label}: area_class must be one of {sorted(AREA_CLASSES)}, got {area_class!r}"
            )
        postcodes = props.get("postcodes")
        if not isinstance(postcodes, list) or not postcodes:
            raise ValueError(f"{label}: postcodes must be a non-empty list")
        for postcode in postcodes:
            if not isinstance(postcode, str) or not _POSTCODE_RE.match(postcode):
                # Strings, not numbers: "04150" must keep its leading zero.
                raise ValueError(f"{label}: postcode must be a 5-digit string, got {postcode!r}")
            if postcode in owner_of_postcode:
                raise ValueError(
                    f"{label}: postcode {postcode} is already in area {owner_of_postcode[postcode]}"
                )
            owner_of_postcode[postcode] = code
        areas.append(
            AreaShape(
                code=code,
                name=name,
                postcodes=tuple(postcodes),
                area_class=area_class,
                ring=_polygon_ring(feature, label),
            )
        )
    if not areas:
        raise ValueError("no service area in the GeoJSON file")
    return areas


def load_outline(path: str | Path | None = None) -> Ring:
    """The mainland France outline (the feature whose properties.kind is "outline")."""
    outlines = [
        (index, feature)
        for index, feature in enumerate(_features(path))
        if feature["properties"].get("kind") == OUTLINE_KIND
    ]
    if len(outlines) != 1:
        raise ValueError(f"expected exactly one outline feature, found {len(outlines)}")
    index, feature = outlines[0]
    return _polygon_ring(feature, f"outline (feature #{index})")


def area_for_postcode(areas: list[AreaShape], postcode: str) -> AreaShape | None:
    postcode = postcode.strip()
    for area in areas:
        if postcode in area.postcodes:
            return area
    return None


@dataclass(frozen=True)
class Projection:
    """Equirectangular lon/lat -> SVG user units, y pointing down.

    Longitudes are shrunk by cos(mid latitude) so that shapes keep roughly their
    real proportions; over France the distortion stays well under what a status
    map cares about.
    """

    min_lon: float
    max_lat: float
    x_factor: float  # cos(mid latitude)
    scale: float  # SVG units per degree of latitude
    padding: float
    width: int
    height: int

    @property
    def view_box(self) -> str:
        return f"0 0 {self.width} {self.height}"

    def point(self, lon: float, lat: float) -> Point:
        x = self.padding + (lon - self.min_lon) * self.x_factor * self.scale
        y = self.padding + (self.max_lat - lat) * self.scale
        # "+ 0.0" turns a rounded -0.0 into 0.0, which would otherwise print as "-0.0".
        return (round(x, 1) + 0.0, round(y, 1) + 0.0)


def projection_for(rings, width: int = 600, padding: int = 12) -> Projection:
    """The projection fitting every ring in a viewBox `width` wide, height from the aspect ratio."""
    points = [point for ring in rings for point in ring]
    if not points:
        raise ValueError("cannot build a projection without any point")
    if width <= 2 * padding:
        raise ValueError(f"width {width} leaves no room inside padding {padding}")
    lons = [lon for lon, _ in points]
    lats = [lat for _, lat in points]
    min_lon, max_lon = min(lons), max(lons)
    min_lat, max_lat = min(lats), max(lats)
    x_factor = math.cos(math.radians((min_lat + max_lat) / 2))
    x_span = (max_lon - min_lon) * x_factor
    if x_span <= 0:
        # The height derives from the width, so a zero-width extent has no scale.
        raise ValueError("cannot project shapes with no east-west extent")
    scale = (width - 2 * padding) / x_span
    # Round up so that the lowest point, once rounded, still falls inside; the
    # round(..., 6) first keeps float noise from adding a spurious extra unit.
    height = math.ceil(round((max_lat - min_lat) * scale + 2 * padding, 6))
    return Projection(
        min_lon=min_lon,
        max_lat=max_lat,
        x_factor=x_factor,
        scale=scale,
        padding=padding,
        width=width,
        height=height,
    )


def svg_path(ring: Ring, projection: Projection) -> str:
    """SVG path data "M x,y L x,y ... Z"; the closing point is left to "Z"."""
    points = list(ring)
    if len(points) > 1 and points[0] == points[-1]:
        points.pop()
    if not points:
        raise ValueError("cannot draw an empty ring")
    commands = []
    for index, (lon, lat) in enumerate(points):
        x, y = projection.point(lon, lat)
        commands.append(f"{'M' if index == 0 else 'L'} {x:.1f},{y:.1f}")
    commands.append("Z")
    return " ".join(commands)


def label_point(ring: Ring, projection: Projection) -> Point:
    """Where to put an area's label: its area-weighted centroid, projected.

    The projection is affine per axis, so the centroid computed in lon/lat
    projects onto the centroid of the drawn shape.
    """
    lon, lat = _centroid(ring)
    return projection.point(lon, lat)


def _centroid(ring: Ring) -> Point:
    points = list(ring)
    if len(points) > 1 and points[0] == points[-1]:
        points.pop()
    if not points:
        raise ValueError("cannot find the centroid of an empty ring")
    # Relative to the first vertex: keeps the shoelace products small and precise.
    origin_x, origin_y = points[0]
    rel = [(x - origin_x, y - origin_y) for x, y in points]
    twice_area = 0.0
    cx = cy = 0.0
    for (x0, y0), (x1, y1) in zip(rel, rel[1:] + rel[:1], strict=True):
        cross = x0 * y1 - x1 * y0
        twice_area += cross
        cx += (x0 + x1) * cross
        cy += (y0 + y1) * cross
    if abs(twice_area) < 1e-15:
        # Degenerate (flat) ring: the vertex mean is the only sensible answer.
        return (
            origin_x + sum(x for x, _ in rel) / len(rel),
            origin_y + sum(y for _, y in rel) / len(rel),
        )
    return (origin_x + cx / (3 * twice_area), origin_y + cy / (3 * twice_area))


def _features(path: str | Path | None) -> list[dict]:
    with open(path or DEFAULT_PATH, encoding="utf-8") as handle:
        data = json.load(handle)  # JSONDecodeError is a ValueError already
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        raise ValueError("the GeoJSON file must hold a FeatureCollection")
    features = data.get("features")
    if not isinstance(features, list):
        raise ValueError("the FeatureCollection has no features list")
    for index, feature in enumerate(features):
        if not isinstance(feature, dict) or not isinstance(feature.get("properties"), dict):
            raise ValueError(f"feature #{index} has no properties object")
    return features


def _polygon_ring(feature: dict, label: str) -> Ring:
    geometry = feature.get("geometry")
    if not isinstance(geometry, dict) or geometry.get("type") != "Polygon":
        raise ValueError(f"{label}: geometry must be a Polygon")
    rings = geometry.get("coordinates")
    if not isinstance(rings, list) or len(rings) != 1:
        # A hole would be drawn filled by svg_path, so refuse it rather than mislead.
        raise ValueError(f"{label}: polygon must have exactly one ring (no holes)")
    ring = []
    for position in rings[0] if isinstance(rings[0], list) else []:
        if (
            not isinstance(position, list)
            or len(position) < 2
            or not all(isinstance(c, int | float) and not isinstance(c, bool) for c in position[:2])
        ):
            raise ValueError(f"{label}: position {position!r} is not [lon, lat]")
        lon, lat = float(position[0]), float(position[1])
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise ValueError(f"{label}: position {position!r} is out of lon/lat range")
        ring.append((lon, lat))
    if len(ring) < 4:
        raise ValueError(f"{label}: ring needs at least 4 positions, got {len(ring)}")
    if ring[0] != ring[-1]:
        raise ValueError(f"{label}: ring is not closed (first position != last)")
    return tuple(ring)
