"""Field data in: loaders and writers of survey files, returning objects the operators take.

- :class:`ERTSurvey`: the unified data format (``.ohm``, ``.dat``, ``.shm``), Res2DInv
  2-D files and ERT column files; for ``DCResistivity2p5D``.
- :class:`TravelTimeSurvey`: ``.sgt`` files and column files (``sx sz rx rz t err``); for
  ``StraightRayTomography``.
- :class:`PotentialSurvey`: UBC-GIF gravity and magnetics observation files and column
  files; for ``Gravity2D`` and ``Magnetics2D``.

Every reader names the file, the line and what was expected when a file is malformed
(:class:`FormatError`, a :class:`bayesinv.io.UserError`); a missing reading is kept as NaN,
masked (``survey.mask``, ``survey.missing``) and reported (a :class:`MissingDataWarning`
and a line in ``survey.report``); unknown or mixed units are errors. Every writer writes a
file its reader reads back to an equal survey. See the "file formats" page of the docs.
"""

from bayesinv.formats._errors import FormatError, MissingDataWarning
from bayesinv.formats._ert_survey import ERTSurvey, geometric_factors
from bayesinv.formats.columns import read_columns, write_columns
from bayesinv.formats.ert import read_ert_columns, read_unified, write_ert_columns, write_unified
from bayesinv.formats.potential import (
    PotentialSurvey,
    read_potential_columns,
    read_ubc_gravity,
    read_ubc_magnetics,
    write_potential_columns,
    write_ubc_gravity,
    write_ubc_magnetics,
)
from bayesinv.formats.res2dinv import read_res2dinv, write_res2dinv
from bayesinv.formats.traveltime import (
    TravelTimeSurvey,
    read_sgt,
    read_traveltime_columns,
    write_sgt,
    write_traveltime_columns,
)

__all__ = [
    "ERTSurvey",
    "FormatError",
    "MissingDataWarning",
    "PotentialSurvey",
    "TravelTimeSurvey",
    "geometric_factors",
    "read_columns",
    "read_ert_columns",
    "read_potential_columns",
    "read_res2dinv",
    "read_sgt",
    "read_traveltime_columns",
    "read_ubc_gravity",
    "read_ubc_magnetics",
    "read_unified",
    "write_columns",
    "write_ert_columns",
    "write_potential_columns",
    "write_res2dinv",
    "write_sgt",
    "write_traveltime_columns",
    "write_ubc_gravity",
    "write_ubc_magnetics",
    "write_unified",
]
