"""Case study 06's comparison with a reference section (pyGIMLi's, in the real study)."""

from pathlib import Path
from types import SimpleNamespace

import arviz as az
import numpy as np
import pytest

from bayesinv import Grid2D
from bayesinv.studies.runner import load_study

STUDY = Path(__file__).resolve().parents[2] / "case_studies" / "06_field_data"
GRID = Grid2D(8, 3, 2.0, 1.0, x0=-2.0, z0=0.0)


@pytest.fixture(scope="module")
def study():
    return load_study(STUDY)


def _case(tmp_path, study, monkeypatch, reference, x_centers=None):
    """Posterior log conductivity N(-log(10), 0.1^2) per cell; write the reference npz."""
    rng = np.random.default_rng(0)
    post = -np.log(10.0) + 0.1 * rng.standard_normal((2, 500, GRID.size))
    idata = az.from_dict({"posterior": {"log_conductivity": post}})
    path = tmp_path / "ref.npz"
    np.savez(
        path,
        log10_rho_flat=reference,
        log10_rho_topo=reference,
        x_centers=GRID.x_centers if x_centers is None else x_centers,
        chi2_flat=1.1,
        chi2_topo=0.9,
        pygimli_version="test",
    )
    monkeypatch.setattr(study, "_reference_misfit", lambda *a: 0.0)  # needs a real survey
    survey = SimpleNamespace(electrodes=np.column_stack([np.arange(0.0, 11.0), np.zeros(11)]))
    ratio = np.full(GRID.shape, 0.5)
    ratio[-1] = 0.9  # bottom row below the depth of investigation
    config = {"reference_file": str(path), "doi_sd_ratio": 0.8}
    return study._reference(idata, GRID, survey, ratio, config, tmp_path)


def test_agreeing_and_disagreeing_references(tmp_path, study, monkeypatch):
    # compared: columns with centres inside (0, 10) m (5 of 8), rows above the DOI (2 of 3)
    ref = np.ones(GRID.shape)  # log10 resistivity 1 = the posterior mean
    head = _case(tmp_path, study, monkeypatch, ref)
    assert head["pygimli_cells_compared"] == 10
    assert head["pygimli_levelled_in_90"] == 1.0
    assert (tmp_path / "pygimli_comparison.png").is_file()
    # negative control: 3 decades off (posterior sd 0.043 decades) is outside everywhere
    far = _case(tmp_path, study, monkeypatch, ref + 3.0)
    assert far["pygimli_levelled_in_90"] == 0.0
    assert far["pygimli_levelled_median_abs_z"] > 50


def test_missing_file_or_other_grid_is_reported(tmp_path, study, monkeypatch):
    config = {"reference_file": str(tmp_path / "none.npz"), "doi_sd_ratio": 0.8}
    head = study._reference(None, GRID, None, None, config, tmp_path)
    assert "none.npz not found" in head["pygimli"]
    assert study._reference(None, GRID, None, None, {"reference_file": ""}, tmp_path) == {}
    other = _case(tmp_path, study, monkeypatch, np.ones(GRID.shape), GRID.x_centers + 1.0)
    assert "another grid" in other["pygimli"]
