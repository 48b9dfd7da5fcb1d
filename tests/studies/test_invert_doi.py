"""Oldenburg–Li depth-of-investigation index: the linear-Gaussian closed form, 1 where the
data see nothing, 0 where they decide, and the data's information as the control."""

import numpy as np
import pytest

from bayesinv import Grid2D
from bayesinv.model import IIDNormal, JointInversion, KnownNoise, MaternPrior, Modality
from bayesinv.operators import MatrixOperator
from bayesinv.studies.invert_doi import oldenburg_li_doi, prior_scale

SD = 2.0  # prior sd of every cell


def _inversion(noise: float, prior=None):
    """4 x 2 cells; cells 6 and 7 unseen (zero columns), cell 0 seen by a strong datum."""
    rng = np.random.default_rng(3)
    grid = Grid2D(4, 2, 1.0, 1.0)
    G = rng.normal(0.0, 0.3, (6, 8))
    G[:, 6:] = 0.0
    G[0] = 0.0
    G[0, 0] = 50.0  # one datum that pins cell 0
    d = G @ rng.normal(0.0, SD, 8) + noise * rng.standard_normal(6)
    inv = JointInversion()
    inv.add_field("m", grid, prior if prior is not None else IIDNormal(0.5, SD))
    inv.add_modality(Modality("d", MatrixOperator(G), d, KnownNoise(noise), field="m"))
    return inv, G


def _closed_form(G, noise, C=None):
    """``|(I - K G) 1|`` with ``K = C G^T (G C G^T + N)^-1`` (module docstring)."""
    C = SD**2 * np.eye(G.shape[1]) if C is None else C
    K = C @ G.T @ np.linalg.inv(G @ C @ G.T + noise**2 * np.eye(G.shape[0]))
    return np.abs((np.eye(G.shape[1]) - K @ G) @ np.ones(G.shape[1]))


def test_index_is_the_linear_gaussian_closed_form():
    inv, G = _inversion(0.05)
    doi = oldenburg_li_doi(inv, shift=1.0, random_seed=1)["m"]
    assert doi.shape == (2, 4)
    np.testing.assert_allclose(doi.ravel(), _closed_form(G, 0.05), atol=1e-4)
    assert np.all(doi.ravel()[6:] > 0.999)  # unseen: the MAP is the reference
    assert doi.ravel()[0] < 0.01  # pinned by the data


def test_noisy_data_leave_every_cell_to_the_reference():
    """Negative control: the same geometry with data 1e5 times noisier sees nothing."""
    inv, _ = _inversion(5000.0)
    doi = oldenburg_li_doi(inv, shift=1.0, random_seed=1)["m"]
    assert np.all(doi > 0.99)


def test_matern_prior_is_shifted_too():
    """With a correlated prior the unseen cells borrow from their seen neighbours."""
    from bayesinv.model.priors import matern_correlation

    inv, G = _inversion(0.05, MaternPrior(SD**2, 0.7, 1.5, mean=0.5))
    doi = oldenburg_li_doi(inv, shift=0.5, random_seed=1)["m"].ravel()
    grid = inv.fields["m"].grid
    xc, zc = np.meshgrid(grid.x_centers, grid.z_centers)
    pts = np.column_stack([xc.ravel(), zc.ravel()])
    dist = np.linalg.norm(pts[:, None] - pts[None], axis=-1)
    C = SD**2 * (matern_correlation(dist / 0.7, 1.5) + 1e-6 * np.eye(8))
    np.testing.assert_allclose(doi, _closed_form(G, 0.05, C), atol=1e-3)
    assert doi[0] < 0.01


def test_bad_shift_and_hierarchical_prior_are_refused():
    inv, _ = _inversion(0.05)
    with pytest.raises(ValueError, match="oldenburg_li_doi: shift"):
        oldenburg_li_doi(inv, shift=0.0, random_seed=1)
    with pytest.raises(ValueError, match="numeric scale"):
        prior_scale(MaternPrior(lambda name: None, 1.0))


@pytest.mark.filterwarnings("ignore::bayesinv.formats.MissingDataWarning")
def test_invert_writes_the_index_map(tmp_path, gravity_line):
    """``[inference] doi_shift``: a gravity line sees its top row better than its bottom."""
    from bayesinv.studies.invert import load_invert_config, run_invert

    gravity_line(tmp_path / "line.csv", 21, 11, 300.0)
    config = tmp_path / "c.toml"
    config.write_text(
        "[grid]\nnx = 10\nnz = 4\npadding = 0.0\ndepth = 40.0\n"
        '[inference]\nmethod = "laplace"\ndraws = 20\nchains = 2\nprior_draws = 10\n'
        "doi_shift = 1.0\n"
        '[modality.data]\nkind = "gravity"\nfile = "line.csv"\nnoise = "known"\n'
        "prior_sd = 100.0\n"
    )
    headline = run_invert(load_invert_config(config), tmp_path / "out")
    doi = np.load(tmp_path / "out" / "doi_oldenburg_li.npz")["density"]
    assert doi.shape == (4, 10) and (tmp_path / "out" / "doi_oldenburg_li_density.png").is_file()
    assert headline["doi_density_top_row"] < headline["doi_density_bottom_row"]
    assert np.all((doi >= 0.0) & (doi < 1.0 + 1e-6))
