"""Per-datum errors and the reciprocal-error model."""

import numpy as np
import pytest

from bayesinv.operators.resistivity import check_errors, reciprocal_error_model
from bayesinv.operators.resistivity.arrays import dipole_dipole


def test_reciprocal_error_model_recovers_a_and_b():
    """Synthetic reciprocal pairs with errors a + b|R| (seeded); and a negative control."""
    rng = np.random.default_rng(11)
    normal = dipole_dipole(30, n_max=4)
    abmn = np.vstack([normal, normal[:, [2, 3, 0, 1]]])
    R = np.exp(rng.uniform(-3, 2, normal.shape[0]))
    a, b = 0.002, 0.03
    sd = a + b * R
    d1 = R + sd * rng.standard_normal(R.size)
    d2 = R + sd * rng.standard_normal(R.size)
    a_fit, b_fit, errors = reciprocal_error_model(abmn, np.concatenate([d1, d2]))
    # E|e1 - e2| = 2/sqrt(pi) sd for Gaussian errors: the fit estimates that scale of sd
    scale = 2 / np.sqrt(np.pi)
    assert b_fit == pytest.approx(scale * b, rel=0.25)
    assert a_fit == pytest.approx(scale * a, abs=0.01)
    assert errors.shape == (abmn.shape[0],) and np.all(errors > 0)
    # negative control: exactly reciprocal data give (almost) no error
    a0, b0, _ = reciprocal_error_model(abmn, np.concatenate([R, R * (1 + 1e-9)]))
    assert b0 < 1e-6 and a0 < 1e-6


def test_reciprocal_pairs_with_reversed_sign_are_matched():
    abmn = [[0, 1, 2, 3], [2, 3, 1, 0], [0, 1, 3, 4], [3, 4, 0, 1]]
    a, b, _ = reciprocal_error_model(abmn, [1.0, -1.1, 0.5, 0.55])
    assert a + b * 1.05 == pytest.approx(0.1, rel=0.2)


def test_errors_bad_input():
    with pytest.raises(
        ValueError, match=r"check_errors: errors must be finite and positive; errors\[1\]"
    ):
        check_errors([0.1, -0.2, 0.3], 3)
    with pytest.raises(ValueError, match=r"errors must have shape \(2,\)"):
        check_errors([0.1, 0.2, 0.3], 2)
    with pytest.raises(ValueError, match="reciprocal_error_model: abmn holds no reciprocal pair"):
        reciprocal_error_model([[0, 1, 2, 3], [0, 1, 3, 4]], [1.0, 2.0])
    with pytest.raises(ValueError, match=r"reciprocal_error_model: resistance\[1\] is not finite"):
        reciprocal_error_model([[0, 1, 2, 3], [2, 3, 0, 1]], [1.0, np.nan])
