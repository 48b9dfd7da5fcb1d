"""ERT files: unified format, Res2DInv, column files; geometric factors; operator hand-off."""

import numpy as np
import pytest

from bayesinv import Grid2D
from bayesinv.formats import (
    ERTSurvey,
    MissingDataWarning,
    geometric_factors,
    read_ert_columns,
    read_res2dinv,
    read_unified,
    write_ert_columns,
    write_res2dinv,
    write_unified,
)
from bayesinv.operators.resistivity import dipole_dipole, from_survey, surface_electrodes

pytestmark = pytest.mark.filterwarnings("ignore::bayesinv.formats.MissingDataWarning")


def _survey(with_ip=False, topography=False, missing=True):
    rng = np.random.default_rng(7)
    elec = surface_electrodes(np.arange(0.0, 12.0, 1.0))
    topo = None
    if topography:
        elec[:, 1] = -0.1 * elec[:, 0]  # a slope: elevation rises by 0.1 m per m
        topo = elec.copy()
    abmn = dipole_dipole(12, n_max=3)
    k = geometric_factors(elec, abmn, topo)
    rhoa = 100.0 * np.exp(rng.normal(0.0, 0.2, abmn.shape[0]))
    if missing:
        rhoa[3] = np.nan
    mask = np.isfinite(rhoa)
    err = np.full(abmn.shape[0], 0.03)
    ip = rng.uniform(1.0, 10.0, abmn.shape[0]) if with_ip else None
    return ERTSurvey(
        elec, abmn, rhoa / k, rhoa, k, err, mask, ip, "mV/V" if with_ip else None, topo
    )


# ---------------------------------------------------------------- geometric factors


def test_geometric_factors_of_the_common_arrays_match_their_closed_forms():
    a = 2.0
    e = surface_electrodes(np.arange(0.0, 40.0, a))
    n = np.arange(1, 5)
    # Wenner 2 pi a; dipole-dipole pi n (n+1) (n+2) a; Schlumberger pi n (n+1) a;
    # pole-dipole 2 pi n (n+1) a (signs follow the A B M N order)
    wen = np.array([[0, 3, 1, 2]])
    dd = np.array([[0, 1, 1 + k, 2 + k] for k in n])
    sch = np.array([[0, 2 * k + 1, k, k + 1] for k in n])
    pd = np.array([[0, -1, k, k + 1] for k in n])
    np.testing.assert_allclose(geometric_factors(e, wen), 2 * np.pi * a)
    np.testing.assert_allclose(-geometric_factors(e, dd), np.pi * n * (n + 1) * (n + 2) * a)
    np.testing.assert_allclose(geometric_factors(e, sch), np.pi * n * (n + 1) * a)
    np.testing.assert_allclose(geometric_factors(e, pd), 2 * np.pi * n * (n + 1) * a)


def test_geometric_factor_of_buried_electrodes_uses_the_image_source():
    # pole-pole with A at depth h and M at the surface a distance L away horizontally:
    # phi = rho/(4 pi) (1/r + 1/r') with r = r' = sqrt(L^2 + h^2), so K = 2 pi r
    h, length = 3.0, 4.0
    e = np.array([[0.0, 0.0], [0.0, h], [length, 0.0]])  # a surface electrode above A
    k = geometric_factors(e, np.array([[1, -1, 2, -1]]))
    np.testing.assert_allclose(k, 2 * np.pi * 5.0)
    # both buried at depths h1, h2, same x: r = |h1 - h2|, r' = h1 + h2
    e = np.array([[0.0, 0.0], [0.0, 2.0], [0.0, 5.0]])
    k = geometric_factors(e, np.array([[1, -1, 2, -1]]))
    np.testing.assert_allclose(k, 4 * np.pi / (1 / 3.0 + 1 / 7.0))


# ---------------------------------------------------------------- unified format


def test_unified_round_trip(tmp_path):
    s = _survey(with_ip=True, topography=True)
    write_unified(tmp_path / "a.ohm", s)
    back = read_unified(tmp_path / "a.ohm")
    assert back.equals(s)
    assert back.mask[3] == np.False_ and back.missing.tolist() == [3]
    write_unified(tmp_path / "b.ohm", back)
    assert (tmp_path / "a.ohm").read_text() == (tmp_path / "b.ohm").read_text()


UNIFIED = """# a hand-written file
4 # sensors
# x y z
0 0 0
1 0 0
2 0 0
3 0 0
2 # data
# {tokens}
{rows}
"""


@pytest.mark.parametrize(
    ("tokens", "rows"),
    [
        ("a b m n rhoa err", "1 4 2 3 100 0.03\n1 4 2 3 50 0.05"),
        ("rhoa m n a b err", "100 2 3 1 4 0.03\n50 2 3 1 4 0.05"),
        ("err/% n b rhoa/Ohmm a m", "3 3 4 100 1 2\n5 3 4 50 1 2"),
        (
            "a b m n u/mV i/mA err",
            f"1 4 2 3 {100e3 / 2 / np.pi!r} 1000 0.03\n1 4 2 3 {50e3 / 2 / np.pi!r} 1000 0.05",
        ),
    ],
)
def test_unified_token_orders_and_units_give_the_same_survey(write, tokens, rows):
    s = read_unified(write("w.ohm", UNIFIED.format(tokens=tokens, rows=rows)))
    np.testing.assert_array_equal(s.abmn, [[0, 3, 1, 2], [0, 3, 1, 2]])
    np.testing.assert_allclose(s.apparent_resistivity, [100.0, 50.0])
    np.testing.assert_allclose(s.geometric_factor, 2 * np.pi)  # Wenner a = 1
    np.testing.assert_allclose(s.resistance, np.array([100.0, 50.0]) / (2 * np.pi))
    np.testing.assert_allclose(s.error, [0.03, 0.05])
    assert s.k_source == "half-space"


def test_unified_boreholes_topography_and_pole_electrodes(write):
    text = """3
# x z
0 10
5 11
5 7
1
# a b m n r k
1 0 2 0 2.0 12.5
2
# x z
0 10
10 12
"""
    s = read_unified(write("bh.ohm", text))
    np.testing.assert_allclose(s.electrodes, [[0, -10], [5, -11], [5, -7]])
    np.testing.assert_array_equal(s.abmn, [[0, -1, 1, -1]])
    np.testing.assert_allclose(s.apparent_resistivity, [25.0])  # k r, k from the file
    assert s.k_source == "file"
    np.testing.assert_allclose(s.topography, [[0, -10], [10, -12]])


def test_unified_2d_x_y_means_elevation(write):
    s = read_unified(
        write(
            "xy.dat",
            "2\n# x y\n0 -1\n3 -2\n1\n# a m rhoa\n1 2 10\n".replace(
                "# a m rhoa", "# a b m n rhoa"
            ).replace("1 2 10", "1 0 2 0 10"),
        )
    )
    np.testing.assert_allclose(s.electrodes, [[0, 1], [3, 2]])


def test_unified_missing_and_invalid_readings_are_masked_and_reported(write):
    text = UNIFIED.format(tokens="a b m n rhoa valid", rows="1 4 2 3 * 1\n1 4 2 3 50 0")
    with pytest.warns(MissingDataWarning, match=r"line\(s\) 10") as rec:
        s = read_unified(write("m.ohm", text))
    assert s.n_data == 2 and not s.mask.any()
    assert any("invalid" in str(w.message) for w in rec)
    assert len(s.report) == 3  # computed K, one missing, one invalid


def test_operator_takes_an_unified_survey_and_predicts_its_half_space(tmp_path):
    s = _survey(missing=False)
    s.electrodes[:, 0] += 2.0  # inside a grid with room on both sides
    grid = Grid2D(nx=20, nz=8, dx=1.0, dz=1.0)
    write_unified(tmp_path / "s.ohm", s)
    back = read_unified(tmp_path / "s.ohm")
    op = from_survey(grid, back)
    rho = op.forward(np.full(grid.size, np.log(1.0 / 80.0)))
    np.testing.assert_allclose(rho, 80.0, rtol=1e-6)  # half-space correction: exact
    np.testing.assert_allclose(op.geometric_factor, back.geometric_factor, rtol=1e-12)
    with pytest.raises(TypeError, match="from_survey: survey must have an attribute"):
        from_survey(grid, object())


# ---------------------------------------------------------------- Res2DInv


def test_res2dinv_round_trip(tmp_path):
    for topo in (False, True):
        s = _survey(with_ip=True, topography=topo)
        s.error = None
        write_res2dinv(tmp_path / "r.dat", s)
        back = read_res2dinv(tmp_path / "r.dat")
        assert back.equals(s, rtol=1e-12), topo
        write_res2dinv(tmp_path / "r2.dat", back)
        assert (tmp_path / "r.dat").read_text() == (tmp_path / "r2.dat").read_text()


def _res2d(code, xloc, rows, extra=""):
    return f"title\n2.0\n{code}\n{len(rows)}\n{xloc}\n0\n" + "\n".join(rows) + f"\n{extra}0,0,0,0\n"


@pytest.mark.parametrize(
    ("code", "xloc", "row", "positions", "k"),
    [
        (1, 0, "0.0, 2.0, 100", [0, 6, 2, 4], 2 * np.pi * 2),
        (1, 1, "3.0, 2.0, 100", [0, 6, 2, 4], 2 * np.pi * 2),
        (2, 0, "0.0, 2.0, 100", [0, None, 2, None], 2 * np.pi * 2),
        (3, 0, "0.0, 2.0, 2, 100", [0, 2, 6, 8], -np.pi * 2 * 3 * 4 * 2),
        (7, 0, "0.0, 2.0, 2, 100", [0, 10, 4, 6], np.pi * 2 * 3 * 2),
        (6, 0, "0.0, 2.0, 2, 100", [0, None, 4, 6], 2 * np.pi * 2 * 3 * 2),
        (6, 0, "0.0, 2.0, -2, 100", [6, None, 0, 2], -2 * np.pi * 2 * 3 * 2),
    ],
)
def test_res2dinv_array_types(write, code, xloc, row, positions, k):
    s = read_res2dinv(write("a.dat", _res2d(code, xloc, [row])))
    x = [s.electrodes[i, 0] if i >= 0 else None for i in s.abmn[0]]
    assert x == positions
    np.testing.assert_allclose(s.geometric_factor, [k])
    np.testing.assert_allclose(s.apparent_resistivity, [100.0])
    np.testing.assert_allclose(s.resistance, [100.0 / k])


def test_res2dinv_general_array_resistance_ip_and_topography(write):
    text = """general
1.0
11
0
Type of measurement (0=app. resistivity,1=resistance)
1
2
0
1
Chargeability
mV/V
0.12,1.0
4,0,0,3,0,1,0,2,0,0.5,7.5
3,0,0,2,0,3,0,0.25,8.0
Topography
2
2
0,100
3,103
1
0,0,0,0
"""
    s = read_res2dinv(write("g.dat", text))
    np.testing.assert_allclose(s.electrodes, [[0, -100], [1, -101], [2, -102], [3, -103]])
    np.testing.assert_array_equal(s.abmn, [[0, 3, 1, 2], [0, -1, 2, 3]])
    np.testing.assert_allclose(s.resistance, [0.5, 0.25])
    np.testing.assert_allclose(s.ip, [7.5, 8.0])
    assert s.ip_unit == "mV/V" and any("Chargeability" in r for r in s.report)


# ---------------------------------------------------------------- column files


def test_ert_columns_round_trip_and_mapping(tmp_path, write):
    s = _survey()
    write_ert_columns(tmp_path / "c.csv", s)
    assert read_ert_columns(tmp_path / "c.csv").equals(s)
    text = "C1x,C1z,C2x,C2z,P1x,P1z,P2x,P2z,R[kohm],note\n0,0,3,0,1,0,2,0,0.002,ok\n"
    mapping = dict(
        ax="C1x", az="C1z", bx="C2x", bz="C2z", mx="P1x", mz="P1z", nx="P2x", nz="P2z", r="R"
    )
    t = read_ert_columns(write("m.csv", text), mapping=mapping)
    np.testing.assert_allclose(t.resistance, [2.0])
    np.testing.assert_allclose(t.apparent_resistivity, [4 * np.pi])
    assert any("note" in r for r in t.report)


def test_unified_sensor_tokens_in_any_order_with_units(write):
    text = "2\n# z/m y x/m\n-1.5 7 0\n-2.5 7 4\n1\n# a b m n rhoa\n1 0 2 0 10\n"
    s = read_unified(write("zyx.ohm", text))
    np.testing.assert_allclose(s.electrodes, [[0.0, 1.5], [4.0, 2.5]])
    # at different x, both electrodes are on the (sloping) surface, not buried: pole-pole
    # K = 2 pi r with the straight distance r
    np.testing.assert_allclose(s.geometric_factor, [2 * np.pi * np.hypot(4.0, 1.0)])
