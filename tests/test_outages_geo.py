"""Service-area shapes for the outage map: the shipped GeoJSON, its validation, the SVG maths."""

import json
import re

import pytest

from outages.domain.geo import (
    AreaShape,
    area_for_postcode,
    label_point,
    load_areas,
    load_outline,
    projection_for,
    svg_path,
)

DEMO_TOWNS = {
    "75015": "URBAN",
    "69007": "URBAN",
    "33000": "URBAN",
    "67000": "URBAN",
    "35000": "URBAN",
    "34000": "URBAN",
    "21000": "URBAN",
    "63000": "URBAN",
    "12390": "RURAL",
    "19160": "RURAL",
    "04150": "RURAL",
    "58140": "RURAL",
    "52160": "RURAL",
    "43170": "RURAL",
}

# On the equator, so that cos(latitude) is exactly 1 and the numbers stay round.
SQUARE = ((-1.0, -1.0), (1.0, -1.0), (1.0, 1.0), (-1.0, 1.0), (-1.0, -1.0))


@pytest.fixture(scope="module")
def areas():
    return load_areas()


def _feature(code, postcodes, ring, area_class="URBAN"):
    return {
        "type": "Feature",
        "properties": {
            "code": code,
            "name": code.title(),
            "postcodes": postcodes,
            "area_class": area_class,
        },
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }


def _write(tmp_path, features):
    path = tmp_path / "areas.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def _ring(lon, lat):
    return [[lon, lat], [lon + 0.1, lat], [lon + 0.1, lat + 0.1], [lon, lat + 0.1], [lon, lat]]


def test_shipped_file_has_the_fourteen_demo_areas(areas):
    assert len(areas) == 14
    assert all(isinstance(area, AreaShape) for area in areas)
    assert "_OUTLINE" not in {area.code for area in areas}
    assert len({area.code for area in areas}) == 14


def test_each_demo_postcode_maps_to_one_area_of_the_right_class(areas):
    for postcode, area_class in DEMO_TOWNS.items():
        owners = [area for area in areas if postcode in area.postcodes]
        assert len(owners) == 1, postcode
        assert owners[0].area_class == area_class, postcode
        # The demo postcode leads the list: it is the area's main commune.
        assert owners[0].postcodes[0] == postcode
        assert area_for_postcode(areas, postcode) is owners[0]


def test_area_for_postcode_unknown_or_padded(areas):
    assert area_for_postcode(areas, "99999") is None
    assert area_for_postcode(areas, " 04150 ").code == "BANON"


def test_every_shipped_ring_is_closed_and_in_france(areas):
    outline = load_outline()
    assert 41 <= len(outline) <= 71  # 40-70 vertices plus the closing one
    for ring in [outline, *(area.ring for area in areas)]:
        assert len(ring) >= 4
        assert ring[0] == ring[-1]
        for lon, lat in ring:
            assert -5.5 < lon < 8.5
            assert 41.0 < lat < 51.5


def test_projection_keeps_every_point_inside_the_view_box(areas):
    rings = [load_outline(), *(area.ring for area in areas)]
    projection = projection_for(rings, width=600, padding=12)
    match = re.fullmatch(r"0 0 (\d+) (\d+)", projection.view_box)
    assert match
    width, height = int(match[1]), int(match[2])
    assert width == 600
    # Mainland France is about as tall as it is wide once longitudes are shrunk.
    assert 500 < height < 700
    for ring in rings:
        for lon, lat in ring:
            x, y = projection.point(lon, lat)
            assert 12 <= x <= width - 12
            assert 12 <= y <= height - 12


def test_projection_points_north_up_and_rounded():
    projection = projection_for([SQUARE], width=100, padding=10)
    assert projection.view_box == "0 0 100 100"
    assert projection.point(-1.0, 1.0) == (10.0, 10.0)  # north-west corner
    assert projection.point(1.0, -1.0) == (90.0, 90.0)  # south-east corner
    assert projection.point(-1 + 1 / 3, 0.0) == (23.3, 50.0)


def test_projection_shrinks_longitudes_by_cos_latitude():
    # A 1x1 degree box at 60 degrees north is twice as tall as wide (cos 60 = 0.5).
    box = ((10.0, 59.5), (11.0, 59.5), (11.0, 60.5), (10.0, 60.5), (10.0, 59.5))
    projection = projection_for([box], width=100, padding=0)
    assert projection.view_box == "0 0 100 200"


def test_svg_path_format():
    projection = projection_for([SQUARE], width=100, padding=10)
    path = svg_path(SQUARE, projection)
    assert path == "M 10.0,90.0 L 90.0,90.0 L 90.0,10.0 L 10.0,10.0 Z"


def test_svg_path_of_shipped_areas_is_well_formed(areas):
    projection = projection_for([area.ring for area in areas])
    number = r"\d+\.\d"
    pattern = rf"M {number},{number}( L {number},{number})+ Z"
    for area in areas:
        path = svg_path(area.ring, projection)
        assert re.fullmatch(pattern, path), area.code
        # The closing point is implicit in Z, not repeated.
        assert path.count(",") == len(area.ring) - 1


def test_label_point_of_a_square_is_its_centre():
    projection = projection_for([SQUARE], width=100, padding=10)
    assert label_point(SQUARE, projection) == (50.0, 50.0)


def test_label_point_is_area_weighted_not_vertex_mean():
    # Many vertices crowd one corner; the vertex mean would drift towards them.
    ring = ((0.0, 0.0), (0.1, 0.0), (0.2, 0.0), (4.0, 0.0), (4.0, 4.0), (0.0, 4.0), (0.0, 0.0))
    projection = projection_for([ring], width=100, padding=10)
    assert label_point(ring, projection) == projection.point(2.0, 2.0)


def test_label_point_falls_inside_each_shipped_area(areas):
    projection = projection_for([area.ring for area in areas])
    for area in areas:
        xs = [projection.point(lon, lat)[0] for lon, lat in area.ring]
        ys = [projection.point(lon, lat)[1] for lon, lat in area.ring]
        x, y = label_point(area.ring, projection)
        assert min(xs) < x < max(xs), area.code
        assert min(ys) < y < max(ys), area.code


def test_valid_temp_file_loads(tmp_path):
    path = _write(tmp_path, [_feature("A", ["01000"], _ring(1, 45))])
    (area,) = load_areas(path)
    assert area.code == "A"
    assert area.postcodes == ("01000",)
    assert area.ring[0] == area.ring[-1] == (1.0, 45.0)


def test_unclosed_ring_is_rejected(tmp_path):
    ring = _ring(1, 45)[:-1]
    path = _write(tmp_path, [_feature("A", ["01000"], ring)])
    with pytest.raises(ValueError, match="not closed"):
        load_areas(path)


def test_ring_with_too_few_points_is_rejected(tmp_path):
    path = _write(tmp_path, [_feature("A", ["01000"], [[1, 45], [2, 45], [1, 45]])])
    with pytest.raises(ValueError, match="at least 4"):
        load_areas(path)


def test_postcode_in_two_areas_is_rejected(tmp_path):
    path = _write(
        tmp_path,
        [
            _feature("A", ["01000", "01100"], _ring(1, 45)),
            _feature("B", ["01200", "01100"], _ring(2, 45)),
        ],
    )
    with pytest.raises(ValueError, match="01100 is already in area A"):
        load_areas(path)


def test_bad_area_class_is_rejected(tmp_path):
    path = _write(tmp_path, [_feature("A", ["01000"], _ring(1, 45), area_class="SUBURBAN")])
    with pytest.raises(ValueError, match="area_class"):
        load_areas(path)


def test_numeric_postcode_is_rejected(tmp_path):
    path = _write(tmp_path, [_feature("A", [4150], _ring(1, 45))])
    with pytest.raises(ValueError, match="5-digit string"):
        load_areas(path)


def test_outline_is_required_once(tmp_path):
    path = _write(tmp_path, [_feature("A", ["01000"], _ring(1, 45))])
    with pytest.raises(ValueError, match="exactly one outline"):
        load_outline(path)
