"""The ``[prior]`` table of ``bayesinv invert``: the chosen prior is the one in the model,
a smoothness prior gives smoother posterior draws, and bad choices are clear user errors."""

import numpy as np
import pytest

from bayesinv.cli import main
from bayesinv.io import UserError
from bayesinv.studies.invert import build_inversion, load_invert_config

pytestmark = pytest.mark.filterwarnings("ignore::bayesinv.formats.MissingDataWarning")

SD = 100.0  # prior sd of the density contrast (kg/m³)


@pytest.fixture
def line(tmp_path, gravity_line):
    """A gravity line of 21 stations over a buried block (10 m cells, 0.01 mGal noise)."""
    return gravity_line(tmp_path / "line.csv", 21, 11, 300.0)


def _config(tmp_path, prior: str, name: str = "c.toml"):
    """A config on ``line.csv``: 10 x 4 cells over the 100 m line, 40 m deep."""
    text = f"""[grid]
nx = 10
nz = 4
padding = 0.0
depth = 40.0
[prior]
{prior}
[modality.data]
kind = "gravity"
file = "line.csv"
noise = "known"
prior_sd = {SD}
"""
    path = tmp_path / name
    path.write_text(text)
    return path


def _field_matrix(model, latent: str, n: int):
    """The field as an affine map of the latent vector: ``(mean, A)``, ``field = mean + A z``."""
    import pytensor

    z = model[latent]
    fn = pytensor.function([z], model["density"], mode="FAST_COMPILE", on_unused_input="ignore")
    shape = model.initial_point()[latent].shape
    mean = fn(np.zeros(shape)).ravel()
    cols = [fn(np.eye(n)[k].reshape(shape)).ravel() - mean for k in range(n)]
    return mean, np.column_stack(cols)


def _matern32(grid, ell):
    """The Matérn 3/2 covariance of the cell centres, written out here."""
    xc, zc = np.meshgrid(grid.x_centers, grid.z_centers)
    pts = np.column_stack([xc.ravel(), zc.ravel()])
    r = np.sqrt(((pts[:, None] - pts[None]) ** 2).sum(-1)) / ell
    return SD**2 * (1.0 + np.sqrt(3.0) * r) * np.exp(-np.sqrt(3.0) * r)


def test_matern_prior_in_the_model_has_the_matern_covariance(line, tmp_path):
    config = _config(tmp_path, 'kind = "matern"\nlength_scale = 25.0\nnu = 1.5')
    inv, grid, _, _ = build_inversion(load_invert_config(config))
    model = inv.build()
    mean, a = _field_matrix(model, "density_raw", grid.size)
    np.testing.assert_allclose(mean, 0.0, atol=1e-12)
    np.testing.assert_allclose(a @ a.T, _matern32(grid, 25.0), atol=1e-5 * SD**2)
    # negative control: the iid prior's covariance is SD² I, far from the Matérn one
    config = _config(tmp_path, 'kind = "iid"', "iid.toml")
    inv, grid, _, _ = build_inversion(load_invert_config(config))
    _, a = _field_matrix(inv.build(), "density_z_score", grid.size)
    np.testing.assert_allclose(a @ a.T, SD**2 * np.eye(grid.size), atol=1e-9 * SD**2)
    assert np.abs(a @ a.T - _matern32(grid, 25.0)).max() > 0.5 * SD**2


def test_default_matern_length_scale_is_an_eighth_of_the_line(line, tmp_path):
    inv, *_ = build_inversion(load_invert_config(_config(tmp_path, 'kind = "matern"')))
    prior = inv.fields["density"].prior
    assert prior.length_scale == pytest.approx(100.0 / 8) and prior.variance == SD**2


@pytest.mark.parametrize(("p", "law"), [(1, "Laplace"), (2, "Normal")])
def test_besov_prior_in_the_model(line, tmp_path, p, law):
    import pymc as pm

    from bayesinv.model import BesovPrior

    config = _config(tmp_path, f'kind = "besov"\ns = 1.5\np = {p}\nwavelet = "haar"\nlevels = 1')
    inv, grid, _, _ = build_inversion(load_invert_config(config))
    model = inv.build()
    assert type(model["density_raw"].owner.op).__name__.startswith(law)
    _, a = _field_matrix(model, "density_raw", grid.size)
    # the same prior through the Python API
    with pm.Model() as direct:
        BesovPrior(1.5, p, "haar", 1, scale=SD).add_to_model("density", grid)
    _, b = _field_matrix(direct, "density_raw", grid.size)
    np.testing.assert_allclose(a, b, atol=1e-9 * SD)
    assert np.abs(a - SD * np.eye(grid.size)).max() > 0.1 * SD  # not the iid map


def _roughness(config, latent: str) -> float:
    r"""Roughness of posterior draws of the field.

    The mean over draws of :math:`\sum_{i \sim j} (m_i - m_j)^2 / \sum_i (m_i - \bar m)^2`.
    Sums over horizontally and vertically neighbouring cells: about 2 x (pairs / cells) =
    3.3 for independent cells on 10 x 4, near 0 for fields that vary over many cells. The
    posterior is the exact Gaussian one of the built model: its field is ``mean + A z``
    (read from the model), ``z ~ N(0, I)``, data ``G m + e`` with known noise, so
    ``z | d ~ N(C B^T Σ^{-1} (d - G mean), C)`` with ``B = G A``, ``C = (I + B^T Σ^{-1} B)^{-1}``.
    """
    inv, grid, _, _ = build_inversion(load_invert_config(config))
    mean, a = _field_matrix(inv.build(), latent, grid.size)
    modality = inv.modalities["data"]
    g = np.column_stack([modality.operator.forward(c) for c in np.eye(grid.size)])
    d, sd = modality.data, 0.01
    b = g @ a / sd
    cov = np.linalg.inv(np.eye(grid.size) + b.T @ b)
    mu = cov @ b.T @ ((d - g @ mean) / sd)
    z = np.random.default_rng(3).multivariate_normal(mu, cov, size=400)
    m = (mean + z @ a.T).reshape(-1, *grid.shape)
    diff = (np.diff(m, axis=1) ** 2).sum((1, 2)) + (np.diff(m, axis=2) ** 2).sum((1, 2))
    spread = ((m - m.mean(axis=(1, 2), keepdims=True)) ** 2).sum((1, 2))
    return float(np.mean(diff / spread))


def test_matern_posterior_is_smoother_than_the_iid_one(line, tmp_path):
    iid = _roughness(_config(tmp_path, 'kind = "iid"', "iid.toml"), "density_z_score")
    matern = _roughness(
        _config(tmp_path, 'kind = "matern"\nlength_scale = 30.0', "m.toml"), "density_raw"
    )
    assert matern < 0.5 * iid  # measured: 1.12 vs 3.37, (matern, iid)
    # negative control: a Matérn length scale far below a cell is iid in effect, and the
    # statistic sees no smoothing
    tiny = _roughness(
        _config(tmp_path, 'kind = "matern"\nlength_scale = 0.5', "t.toml"), "density_raw"
    )
    assert tiny > 0.8 * iid, (tiny, iid)  # measured: 3.33


@pytest.mark.parametrize(
    ("prior", "message"),
    [
        ('kind = "gmrf"', "prior.kind must be one of 'iid', 'matern', 'besov', got 'gmrf'"),
        ('kind = "matern"\ns = 2.0', "prior.s: only for kind = 'besov', the prior here is"),
        ('kind = "iid"\nlength_scale = 5.0', "prior.length_scale: only for kind = 'matern'"),
        ('kind = "matern"\nlenght_scale = 5.0', "prior.lenght_scale: unknown key; did you mean"),
        ('kind = "matern"\nnu = 1.0', "prior.nu must be one of 0.5, 1.5, 2.5, got 1.0"),
        ('kind = "matern"\ncoarsening = 3', "prior.coarsening: does not fit the grid nx = 10"),
        ('kind = "besov"\nlevels = 3', "prior.levels (or wavelet): does not fit the grid"),
    ],
)
def test_bad_prior_choices_are_user_errors_naming_file_and_key(line, tmp_path, prior, message):
    config = _config(tmp_path, prior)
    with pytest.raises(UserError) as err:
        build_inversion(load_invert_config(config))
    assert str(err.value).startswith(str(config)) and message in str(err.value)


def test_bad_prior_from_the_cli_is_one_line_exit_2(line, tmp_path, capsys):
    config = _config(tmp_path, 'kind = "gaussian"')
    assert main(["invert", str(config), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "prior.kind must be one of" in err


def test_init_writes_a_matern_prior_that_invert_builds(line, tmp_path):
    config = tmp_path / "init.toml"
    assert main(["init", str(line), "--out", str(config)]) == 0
    text = config.read_text()
    assert 'kind = "matern"' in text and "length_scale = 12.0" in text  # 100 m / 8, rounded
    text = text.replace("nx = 40", "nx = 10").replace("nz = 15", "nz = 4")
    config.write_text(text)
    inv, _, _, _ = build_inversion(load_invert_config(config))
    prior = inv.fields["density"].prior
    assert type(prior).__name__ == "MaternPrior" and prior.length_scale == 12.0
