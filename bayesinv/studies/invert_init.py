"""``bayesinv init DATAFILE``: a commented starter configuration for ``bayesinv invert``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bayesinv.io import UserError
from bayesinv.studies.config import check_table
from bayesinv.studies.invert import FORMATS, KINDS, MODALITY, _positions, _read

__all__ = ["init_config"]


def _guess_kind(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".ohm", ".shm", ".dat"):
        return "ert"
    if suffix == ".sgt":
        return "traveltime"
    if suffix == ".obs":
        return "gravity"
    lines = [t for t in path.read_text().splitlines() if t.strip() and not t.startswith("#")]
    header = lines[0].lower().replace(",", " ").replace(";", " ").split() if lines else []
    if "ax" in header:
        return "ert"
    if {"sx", "rx"} <= set(header):
        return "traveltime"
    return "magnetics" if {"tmi", "nt"} & set(header) else "gravity"


def init_config(data_file, kind: str | None = None) -> str:
    """Write the text of a commented starter configuration for one data file.

    Parameters
    ----------
    data_file : str or Path
        The data file (read once with its loader, so a file that does not load fails here).
    kind : str, optional
        ``"gravity"``, ``"magnetics"``, ``"traveltime"`` or ``"ert"`` (guessed from the
        suffix and the header by default).

    Returns
    -------
    str
        TOML text that :func:`load_invert_config` accepts (from the data file's folder).
    """
    path = Path(data_file)
    kind = kind or _guess_kind(path)
    if kind not in KINDS:
        raise UserError(f"bayesinv init: kind must be one of {sorted(KINDS)}, got {kind!r}")
    cfg = check_table(
        {"kind": kind, "file": path.name}, MODALITY, source=str(path), prefix="modality.data."
    )
    survey = _read(cfg, path.parent, "data", str(path))
    n = len(survey.mask)
    has_error = getattr(survey, "error", None) is not None
    field, mean, sd, _ = KINDS[kind]
    width = max(float(np.ptp(_positions(kind, survey)[:, 0])), 1.0)
    ell = float(f"{width / 8.0:.2g}")
    error_line = (
        "# error = 0.05"
        if has_error
        else "error = 0.05          # REQUIRED: the file gives no errors"
    )
    return f"""# bayesinv invert configuration, written by `bayesinv init {path.name}`
# {n} data read from {path.name} ({int(np.sum(~survey.mask))} masked); run with
#   bayesinv invert THIS_FILE.toml

[output]
folder = "output/invert_{path.stem}"   # report, posterior.nc, depth-of-investigation maps

[grid]                # from the data extent: x range + padding on each side, depth below
nx = 40
nz = 15
padding = 0.1         # fraction of the data's x range added on each side
# depth = 100.0       # m (default: a third of the data's x range)

[prior]               # the prior of the field {field!r}; mean and sd: prior_mean, prior_sd below
kind = "matern"       # "matern": smooth Gaussian field; "iid": independent cells; "besov": wavelets
length_scale = {ell!r}  # m, correlation length of the Matérn field (default: data x-range / 8)
nu = 1.5              # Matérn smoothness: 0.5 (rough), 1.5, 2.5 (smooth)
coarsening = 1        # > 1: the field lives on a grid this many times coarser (cost ~ cells^3)
# kind = "besov" takes instead: s = 2.0 (smoothness), p = 2 (1: blocky), wavelet = "haar",
# levels = ... (nx and nz must be divisible by 2**levels)

[inference]
method = "nuts"       # or "laplace" (fast, Gaussian approximation around the MAP)
draws = 1000
tune = 1000
chains = 4
seed = 1
doi_shift = 0.0       # > 0: Oldenburg–Li index from two MAPs, references -/+ this many prior sd

[modality.data]
kind = "{kind}"
file = "{path.name}"
format = "auto"       # {", ".join(FORMATS[1:])}
{error_line}
noise = "scaled"      # learn a scale on the stated errors; "known": as stated (with laplace)
offset = {"true" if kind in ("gravity", "magnetics") else "false"}       # an unknown base level
offset_sd = 1.0       # its prior sd, in data units
trend_sd = 0.0        # > 0: a linear regional trend with this prior sd (data units per m)
# prior_mean = {mean}  # prior of the field {field!r}
# prior_sd = {sd}
"""
