"""The shared machinery of the cycle-skipping studies (07 in 1-D, 11 in 2-D)."""

from pathlib import Path

import numpy as np
import pytest

from bayesinv.studies.cycle_skipping import METHODS, LinearField, SharedBands, summary, verdict
from bayesinv.studies.runner import check_config, load_config, load_study

ROOT = Path(__file__).resolve().parents[2] / "case_studies" / "11_cycle_skipping_2d"


def _config(size="quick", **changes):
    study = load_study(ROOT)
    config = check_config(load_config(ROOT, size), study.REQUIRED, "11", optional=study.OPTIONAL)
    return study, config | changes


def test_2d_field_prior_variance_truth_and_start():
    """The Haar field: per-cell prior variance prior_sd^2 (1 + sum_j decay^(2(j-1))) (one
    level each), the disc truth representable, the homogeneous start constant."""
    study, cfg = _config(nx=16, n_coarse=8, level_decay=0.5)
    field, _ = study._field(cfg)
    levels = 3
    expected = cfg["prior_sd"] ** 2 * (1 + sum(0.5 ** (2 * (j - 1)) for j in range(1, levels + 1)))
    np.testing.assert_allclose(np.sum(field.C**2, axis=1), expected, rtol=1e-12)
    assert field.sizes == (16, 64)  # wavelet levels 0..2 and 0..3 of the 8 x 8 grid
    assert field.error(field.true_theta()) < 1e-12
    assert np.count_nonzero(field.truth > field.c0) > 0
    np.testing.assert_allclose(field.cells(field.homogeneous(0.03)), field.c0 + 0.03, atol=1e-12)
    # the wave grid repeats each coarse cell over 2 x 2 wave cells
    m = (field.B @ field.true_theta()).reshape(16, 16)
    np.testing.assert_allclose(m[::2, ::2], (field.truth - field.c0).reshape(8, 8), atol=1e-12)
    np.testing.assert_allclose(m[1::2, 1::2], m[::2, ::2], atol=1e-12)


def test_2d_shared_model_at_a_band_prefix_equals_the_band_model():
    """A band's own model (its sizes[k] coefficients) and the shared finest model at the
    zero-padded point differ by the prior constant of the padded coordinates only, and the
    bands differ (a wrong band or a wrong padding fails)."""
    from bayesinv.inference.continuation.bands import band_levels, lowpass_bands

    study, cfg = _config(duration=0.3)
    _, op = study._operator(cfg)
    field, _ = study._field(cfg)
    clean = op.forward(field.m0 + field.B @ field.true_theta())
    observed = clean + np.random.default_rng(5).normal(0.0, 1e-3, clean.size)
    n_traces = op.n_sources * op.n_receivers
    levels = band_levels(op, observed, 1e-3, lowpass_bands(3.0, 7.5, 2), n_traces=n_traces,
                         nt=op.nt, dt=op.dt)  # fmt: skip
    shared = SharedBands(op, levels, field)
    shared_logp = shared.model.compile_logp()
    n = field.sizes[-1]
    theta = np.linspace(-0.4, 0.4, n)
    values = []
    for k, nk in enumerate(field.sizes):
        shared.set_band(k)
        own = shared.own_builder()(k).compile_logp()({"theta": theta[:nk]})
        padded = np.concatenate([theta[:nk], np.zeros(n - nk)])
        constant = -0.5 * np.log(2 * np.pi) * (n - nk)
        np.testing.assert_allclose(shared_logp({"theta": padded}), own + constant, rtol=1e-10)
        values.append(own)
    assert abs(values[0] - values[1]) > 1.0


def _continuations_of_seed_runs(monkeypatch, calls: int, **changes):
    """``(method, options)`` of the first ``calls`` continuations ``seed_runs`` starts (quick
    configuration with ``changes``); the last one stops it."""
    import sys

    from bayesinv.inference.continuation.bands import lowpass_bands
    from bayesinv.studies.cycle_skipping import seed_runs

    study, cfg = _config(duration=0.3, **changes)
    _, op = study._operator(cfg)
    field, _ = study._field(cfg)
    bands = lowpass_bands(cfg["f_start"], cfg["f_stop"], cfg["n_bands"])
    seen = []

    class Recorded(Exception):
        pass

    def record(build, n, *, method, options, **kwargs):
        seen.append((method, options))
        if len(seen) == calls:
            raise Recorded

    # the package, not the function of the same name that bayesinv.inference re-exports
    monkeypatch.setattr(sys.modules["bayesinv.inference.continuation"], "continuation", record)
    with pytest.raises(Recorded):
        seed_runs(op, field, bands, cfg, 3, True, study._start_u(cfg))
    return seen, cfg


@pytest.mark.parametrize("adaptation", [None, "low_rank"])
def test_seed_runs_give_the_nuts_levels_the_configured_adaptation(monkeypatch, adaptation):
    """``nuts_adaptation`` reaches the NUTS levels' options (unset: bayesinv's default) and
    ``map_ftol`` the Laplace levels' optimizer."""
    seen, cfg = _continuations_of_seed_runs(monkeypatch, 1, nuts_adaptation=adaptation)
    options = seen[0][1]
    assert options["nuts"].get("adaptation") == adaptation
    assert ("adaptation" in options["nuts"]) == (adaptation is not None)
    assert options["laplace"]["optimizer"] == {"ftol": cfg["map_ftol"]}  # quick: 1e-10


@pytest.mark.parametrize("single", [{}, {"single_band_draws": 7, "single_band_tune": 5}])
def test_seed_runs_give_the_single_band_nuts_its_own_lengths(monkeypatch, single):
    """``single_band_draws``/``single_band_tune`` set the single-band NUTS's lengths only
    (the continuation's NUTS keeps ``draws``/``tune``); unset, both use ``draws``/``tune``."""
    seen, cfg = _continuations_of_seed_runs(monkeypatch, 3, **single)
    (m_single, o_single), (m_cont, o_cont), (m_smc, _) = seen
    assert m_single[-1] == m_cont[-1] == "nuts" and m_smc[0] == "smc"
    lengths = {"draws": single.get("single_band_draws", cfg["draws"]),
               "tune": single.get("single_band_tune", cfg["tune"])}  # fmt: skip
    assert {k: o_single["nuts"][k] for k in lengths} == lengths
    assert {k: o_cont["nuts"][k] for k in lengths} == {"draws": cfg["draws"], "tune": cfg["tune"]}
    assert o_single["nuts"]["chains"] == o_cont["nuts"]["chains"] == cfg["chains"]


def test_2d_band_levels_set_the_sizes_and_are_checked():
    study, full = _config("full")
    cfg = _config(nx=16, n_coarse=8, n_bands=3, band_levels=[2, 3, 3])[1]
    assert study._field(cfg)[0].sizes == (16, 64, 64)
    assert study._band_levels(full, 4) == [3, 4, 4]  # full: 64, 256, 256 coefficients
    for bad in ([3, 2, 3], [0, 1, 2], [2, 3, 4], [2, 3], [2.0, 3, 3]):
        with pytest.raises(ValueError, match="band_levels"):
            study._field(cfg | {"band_levels": bad})


def test_linear_field_checks_prefix_cells():
    """cells() zero-pads a prefix of the coefficients (C[:, :k] θ)."""
    C = np.arange(12.0).reshape(3, 4)
    field = LinearField(0.0, C, 1.0, C, (2, 4), np.ones(3))
    np.testing.assert_allclose(field.cells([1.0, 2.0]), 1.0 + C[:, 0] + 2 * C[:, 1])
    assert field.error(np.zeros(4)) == pytest.approx(0.0)


def _rows(single_ok, cont_ok, n=10, sampled=None):
    """Rows of n seeds; ``sampled`` = (coverage, R-hat, ESS) of the continuation's seed 0."""
    rows = []
    for method, ok in ((METHODS[0], single_ok), (METHODS[2], cont_ok), (METHODS[3], n)):
        rows += [{"method": method, "in_basin": i < ok, "error": 0.1, "coverage_90": np.nan,
                  "max_rhat": np.nan, "min_ess_bulk": np.nan, "seconds": 1.0}
                 for i in range(n)]  # fmt: skip
    if sampled is not None:
        cover, rhat, ess = sampled
        rows[n] |= {"coverage_90": cover, "max_rhat": rhat, "min_ess_bulk": ess}
    return rows


def test_verdict_needs_ten_seeds_and_both_criteria():
    assert verdict(summary(_rows(5, 9)), 10).startswith("PASS")
    assert verdict(summary(_rows(6, 10)), 10).startswith("FAIL")  # MAP in more than half
    assert verdict(summary(_rows(2, 8)), 10).startswith("FAIL")  # continuation below 9/10
    assert verdict(summary(_rows(0, 1, n=1)), 1) is None


@pytest.mark.parametrize(
    ("sampled", "passed"),
    [
        ((0.86, 1.009, 633.0), True),
        ((1.0, 1.009, 633.0), False),  # intervals too wide: every cell covered
        ((0.75, 1.009, 633.0), False),  # too narrow
        ((0.86, 1.011, 633.0), False),  # not converged
        ((0.86, 1.009, 399.0), False),  # too few effective draws
    ],
)
def test_verdict_judges_the_sampled_continuation(sampled, passed):
    """Where the continuation's NUTS ran, coverage (0.80-0.98), R-hat and ESS decide too."""
    check = verdict(summary(_rows(2, 10, sampled=sampled)), 10, rhat_max=1.01, ess_min=400.0)
    assert check.startswith("PASS" if passed else "FAIL"), check
    assert f"coverage {sampled[0]:.3g}" in check and f"R-hat {sampled[1]:.4g}" in check
    # without the convergence goals only the coverage is judged
    loose = verdict(summary(_rows(2, 10, sampled=sampled)), 10)
    assert loose.startswith("PASS" if 0.8 <= sampled[0] <= 0.98 else "FAIL"), loose


def test_2d_recorded_seeds_belong_to_the_full_configuration():
    """The per-seed rows kept in the study folder resume today's full run (README, "Resuming").

    A change of the full configuration that would make them another computation's fails
    here, instead of the resumed run silently computing them again.
    """
    import json

    from bayesinv.studies.seed_store import FORMAT, settings_tag

    study, full = _config("full")
    seeds, settings, per_seed = study._seed_plan(full)
    assert per_seed(0)["sampled"]["nuts_adaptation"] == full["nuts_adaptation"]
    files = sorted((ROOT / "recorded_seeds").glob("seed_*.json"))
    assert files, "no recorded seeds"
    for path in files:
        i = int(path.stem.split("_")[1])
        state = json.loads(path.read_text())
        assert state["format"] == FORMAT and state["seed"] == int(seeds[i]), path.name
        assert state["tag"] == settings_tag(settings | {"replicate": per_seed(i)}), path.name
        assert {r["method"] for r in state["rows"]} == {m for m in METHODS if "NUTS" not in m}
    # the negative control: another noise level is another computation
    other = study._seed_plan(full | {"noise_frac": 0.03})[1]
    assert settings_tag(other | {"replicate": per_seed(9)}) != settings_tag(
        settings | {"replicate": per_seed(9)}
    )


def test_2d_recorded_continuation_levels_of_seed_0_are_read_back(monkeypatch):
    """Seed 0's recorded continuation levels (README, "Resuming") are what the full
    configuration's continuation reads back, every level of it, so that a full run does not
    compute the 2-h NUTS level again; and that NUTS level is converged on the coefficients.

    The continuation of ``seed_runs`` runs for real with the recorded folder and solvers that
    fail if called; the single-band run before it is skipped, the SMC run after it stopped.
    """
    import sys

    from bayesinv.inference.continuation.bands import lowpass_bands
    from bayesinv.inference.continuation.registry import LEVEL_SOLVERS
    from bayesinv.studies.cycle_skipping import seed_runs

    study, full = _config("full")
    cfg = full | {"hessian": {"dense_max": full["hessian_dense_max"]}}
    _, op = study._operator(cfg)
    field, _ = study._field(cfg)
    bands = lowpass_bands(cfg["f_start"], cfg["f_stop"], cfg["n_bands"])
    seeds = study._seed_plan(full)[0]
    package = sys.modules["bayesinv.inference.continuation"]
    real = package.continuation

    class Done(Exception):
        pass

    class Skipped:
        levels = ()

    def solver(level):
        raise AssertionError(f"level {level.index} would be solved again")

    def only_the_continuation(*args, checkpoint, **kwargs):
        if checkpoint.name == "single":
            return Skipped()
        assert checkpoint.name == "continuation"
        raise Done(real(*args, checkpoint=checkpoint, **kwargs))

    for name in list(LEVEL_SOLVERS):
        monkeypatch.setitem(LEVEL_SOLVERS, name, solver)
    monkeypatch.setattr(package, "continuation", only_the_continuation)
    with pytest.raises(Done) as done:
        seed_runs(op, field, bands, cfg, seeds[0], True, study._start_u(cfg),
                  ROOT / "recorded_seeds" / "seed_000")  # fmt: skip
    result = done.value.args[0]
    assert [level.method for level in result.levels] == ["laplace"] * 3 + ["nuts"]
    nuts = result.final.diagnostics
    assert nuts["max_rhat"] < full["rhat_max"] and nuts["min_ess_bulk"] >= full["ess_min"]
    assert field.error(result.final.point["theta"]) < full["threshold"]
