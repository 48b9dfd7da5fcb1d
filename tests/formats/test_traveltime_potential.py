"""Travel-time and gravity/magnetics files: round trips, variants, operator hand-off."""

import numpy as np
import pytest

from bayesinv import Grid2D
from bayesinv.formats import (
    MissingDataWarning,
    PotentialSurvey,
    TravelTimeSurvey,
    read_potential_columns,
    read_sgt,
    read_traveltime_columns,
    read_ubc_gravity,
    read_ubc_magnetics,
    write_potential_columns,
    write_sgt,
    write_traveltime_columns,
    write_ubc_gravity,
    write_ubc_magnetics,
)
from bayesinv.operators import Gravity2D, StraightRayTomography

pytestmark = pytest.mark.filterwarnings("ignore::bayesinv.formats.MissingDataWarning")


def _tt():
    sensors = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 20.0], [10.0, 20.0]])
    sg = np.array([[0, 1], [0, 3], [2, 1], [2, 3]])
    times = np.array([0.01, 0.02, np.nan, 0.03])
    err = np.full(4, 1e-3)
    return TravelTimeSurvey(
        sensors[sg[:, 0]], sensors[sg[:, 1]], times, err, sensors=sensors, sg=sg
    )


def test_sgt_round_trip_and_operator(tmp_path):
    s = _tt()
    write_sgt(tmp_path / "a.sgt", s)
    back = read_sgt(tmp_path / "a.sgt")
    assert back.equals(s) and back.missing.tolist() == [2]
    grid = Grid2D(nx=10, nz=20, dx=1.0, dz=1.0)
    op = StraightRayTomography(grid, back.sources, back.receivers)
    t = op.forward(np.full(grid.size, 1e-3))  # 1000 m/s: t = length / 1000
    length = np.hypot(*(back.receivers - back.sources).T)
    np.testing.assert_allclose(t, length * 1e-3, rtol=1e-12)


def test_sgt_token_order_and_milliseconds(write):
    text = "3\n# x y\n0 0\n5 0\n10 -2\n2\n# t/ms g s err/ms\n12.5 2 1 0.5\n* 3 1 0.5\n"
    with pytest.warns(MissingDataWarning, match=r"line\(s\) 9"):
        s = read_sgt(write("b.sgt", text))
    np.testing.assert_allclose(s.times, [0.0125, np.nan])
    np.testing.assert_allclose(s.error, [5e-4, 5e-4])
    np.testing.assert_allclose(s.receivers, [[5, 0], [10, 2]])  # z = -elevation
    assert s.mask.tolist() == [True, False]


def test_traveltime_columns_round_trip_and_elevations(tmp_path, write):
    s = _tt()
    write_traveltime_columns(tmp_path / "t.csv", s)
    back = read_traveltime_columns(tmp_path / "t.csv")
    s.sensors = s.sg = None
    assert back.equals(s)
    text = "sx sz r_x r_elev time[ms]\n0 1 10 -3 4.0\n"
    t = read_traveltime_columns(
        write("t.txt", text), mapping={"rx": "r_x", "r_elevation": "r_elev"}
    )
    np.testing.assert_allclose(t.receivers, [[10.0, 3.0]])
    np.testing.assert_allclose(t.times, [0.004])
    assert t.error is None


def _grav():
    rx = np.column_stack([np.linspace(0, 100, 6), np.full(6, -1.5)])
    vals = np.array([0.1, 0.2, np.nan, 0.4, 0.3, 0.1])
    return PotentialSurvey(
        "gravity", rx, vals, np.full(6, 0.02), line=np.array([1.0] * 3 + [2.0] * 3)
    )


def test_gravity_round_trips_and_operator(tmp_path):
    s = _grav()
    write_potential_columns(tmp_path / "g.csv", s)
    assert read_potential_columns(tmp_path / "g.csv").equals(s)
    s.line = None
    for dim in (2, 3):
        write_ubc_gravity(tmp_path / f"g{dim}.obs", s, dim=dim)
        assert read_ubc_gravity(tmp_path / f"g{dim}.obs", dim=dim).equals(s)
    grid = Grid2D(nx=10, nz=5, dx=10.0, dz=10.0)
    assert Gravity2D(grid, s.receivers).n_data == 6


def test_ubc_gravity_sign_elevation_and_profile_along_y(write):
    text = "! grav3d\n3\n5 0 100 0.5 0.01\n5 10 101 0.7 0.01\n5 20 102 0.9 0.01\n"
    s = read_ubc_gravity(write("g.obs", text))
    np.testing.assert_allclose(s.values, [0.5, 0.7, 0.9])  # positive down in both
    np.testing.assert_allclose(s.receivers, [[0, -100], [10, -101], [20, -102]])


def test_ubc_magnetics_round_trip(write, tmp_path):
    text = "60 10 50000\n60 10 1\n2\n0 0 1 12.0 1.0\n10 0 1 15.0 1.0\n"
    s = read_ubc_magnetics(write("m.obs", text))
    assert s.inducing_field == (60.0, 10.0, 50000.0) and s.unit == "nT"
    write_ubc_magnetics(tmp_path / "m2.obs", s)
    assert read_ubc_magnetics(tmp_path / "m2.obs").equals(s)


def test_gravity_csv_with_units_blank_reading_and_ignored_columns(write):
    text = "# line 3\nstation,x[km],elev[m],gz[uGal],sd[uGal]\n1,0.0,10,500,20\n2,0.025,11,,20\n"
    with pytest.raises(Exception, match="mixed units"):
        read_potential_columns(write("g.csv", text))
    text = text.replace("x[km]", "x[m]").replace("0.025", "25")
    with pytest.warns(MissingDataWarning, match=r"line\(s\) 4"):
        s = read_potential_columns(write("g.csv", text))
    np.testing.assert_allclose(s.values, [0.5, np.nan])
    np.testing.assert_allclose(s.error, [0.02, 0.02])
    np.testing.assert_allclose(s.receivers, [[0, -10], [25, -11]])
    assert s.mask.tolist() == [True, False] and any("station" in r for r in s.report)
