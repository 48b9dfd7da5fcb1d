"""Malformed files: every reader names the file, the line and what it expected."""

import re

import pytest

from bayesinv.formats import (
    FormatError,
    read_potential_columns,
    read_res2dinv,
    read_sgt,
    read_traveltime_columns,
    read_ubc_gravity,
    read_ubc_magnetics,
    read_unified,
)
from bayesinv.io import UserError

SENSORS = "4\n# x z\n0 0\n1 0\n2 0\n3 0\n"
R2D = "title\n1.0\n1\n2\n0\n0\n"

CASES = [
    # (reader, file name, content, line, expected words)
    (read_unified, "a.ohm", "x\n", 1, "expected the number of sensors, got 'x'"),
    (read_unified, "b.ohm", "4\n# x z\n0 0\n1 0\n", 4, "expected 4 sensors rows, found 2"),
    (read_unified, "c.ohm", "2\n# x z\n0 0\n1\n", 4, "sensors row 2 to have 2 columns"),
    (read_unified, "d.ohm", SENSORS + "two\n", 7, "expected the number of data"),
    (
        read_unified,
        "e.ohm",
        SENSORS + "1\n# a b m n rhoa err\n1 4 2 3 100\n",
        9,
        "data row 1 to have 6 columns as the format line names (a b m n rhoa err); it has 5",
    ),
    (read_unified, "f.ohm", SENSORS + "1\n# a b m rhoa\n1 4 2 100\n", 8, "data tokens a b m n"),
    (
        read_unified,
        "g.ohm",
        SENSORS + "1\n# a b m n rhoa\n1 9 2 3 100\n",
        9,
        "electrode indices a, m in 1..4 and b, n in 0..4",
    ),
    (
        read_unified,
        "h.ohm",
        SENSORS + "1\n# a b m n u/furlong i\n1 4 2 3 1 1\n",
        8,
        "a known voltage unit for 'u'",
    ),
    (read_unified, "i.ohm", SENSORS + "1\n# a b m n rhoa\n1 4 2 3 abc\n", 9, "a number for 'rhoa'"),
    (read_unified, "j.ohm", SENSORS + "1\n# a b m n\n1 4 2 3\n", None, "a reading in every datum"),
    (
        read_unified,
        "k.ohm",
        SENSORS + "1\n# a b m n rhoa\n1 4 1 3 100\n",
        9,
        "four distinct electrodes",
    ),
    (
        read_unified,
        "l.ohm",
        "2\n# x/m z/km\n0 0\n1 0\n1\n# a b m n r\n1 0 2 0 1\n",
        2,
        "one length unit for the sensor",
    ),
    (
        read_unified,
        "m.ohm",
        SENSORS + "1\n# a b m n r rhoa k\n1 4 2 3 1 7 6.28\n",
        9,
        "rhoa = k * r within 0.1 %",
    ),
    (
        read_unified,
        "n.ohm",
        SENSORS + "1\n# a b m n rhoa\n1 4 2 3 10\nextra\n",
        10,
        "expected the number of topography points, got 'extra'",
    ),
    (read_res2dinv, "a.dat", "title\nabc\n", 2, "the unit electrode spacing"),
    (read_res2dinv, "b.dat", "title\n1.0\n5\n", 3, "an array type among [1, 2, 3, 6, 7, 11]"),
    (
        read_res2dinv,
        "c.dat",
        R2D + "0.0, 1.0, 100\n",
        8,
        "data row 2 of 2 (numbers), got 'end of file'",
    ),
    (
        read_res2dinv,
        "d.dat",
        R2D + "0.0, 1.0\n1.0, 1.0, 100\n",
        7,
        "data row 1 of 2 to have 3 numbers for this array type; it has 2",
    ),
    (
        read_res2dinv,
        "e.dat",
        R2D + "0,1,100\n1,1,100\n1\n3\n0,0\n",
        9,
        "topography flag 2 (true horizontal distances)",
    ),
    (read_sgt, "a.sgt", "2\n# x z\n0 0\n1 0\n1\n# s g\n1 2\n", 6, "data tokens s g t"),
    (
        read_sgt,
        "b.sgt",
        "2\n# x z\n0 0\n1 0\n1\n# s g t/ms err/s\n1 2 3 1\n",
        6,
        "t and err in one unit (mixed units)",
    ),
    (
        read_traveltime_columns,
        "a.csv",
        "sx,sz,rx,rz,t\n0,0,1,1\n",
        2,
        "data row 1 to have 5 columns as the header names; it has 4",
    ),
    (
        read_traveltime_columns,
        "b.csv",
        "sx,sz,rx,t\n0,0,1,1\n",
        1,
        "a column 'rz' or 'r_elevation'",
    ),
    (
        read_potential_columns,
        "a.csv",
        "x,z,gz[mGal],sd[uGal]\n0,0,1,1\n",
        1,
        "one unit for columns value, error (mixed units)",
    ),
    (read_potential_columns, "b.csv", "x,z,gz[furlong]\n0,0,1\n", 1, "a known gravity unit"),
    (
        read_potential_columns,
        "c.csv",
        "x,z,gz\n0,,1\n",
        2,
        "a number in column 'z' (it cannot be missing)",
    ),
    (read_ubc_gravity, "a.obs", "! c\nthree\n", 2, "the number of observations"),
    (
        read_ubc_gravity,
        "b.obs",
        "2\n0 0 0 1\n1 1 0 2\n",
        3,
        "a profile along x (constant y) or along y (constant x)",
    ),
    (read_ubc_magnetics, "a.obs", "60 10\n", 1, "the inducing field: inclination declination"),
]


@pytest.mark.parametrize(
    ("reader", "name", "text", "line", "words"),
    CASES,
    ids=[f"{c[0].__name__}-{c[1]}" for c in CASES],
)
def test_malformed_file_names_file_line_and_expectation(write, reader, name, text, line, words):
    path = write(name, text)
    with pytest.raises(FormatError) as info:
        reader(path)
    message = str(info.value)
    assert message.startswith(str(path) + ": ")
    if line is not None:
        assert f": line {line}: expected " in message, message
    else:
        assert ": expected " in message
    assert words in message, message
    assert isinstance(info.value, UserError) and info.value.line == line


def test_there_are_at_least_fifteen_malformed_cases():
    assert len(CASES) >= 15
    assert len({c[1] + c[0].__name__ for c in CASES}) == len(CASES)


def test_missing_file_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match=re.escape(str(tmp_path / "no.ohm")) + ": is not a file"):
        read_unified(tmp_path / "no.ohm")
