"""A simulation-based calibration study run from a TOML configuration (``bayesinv sbc``).

The configuration (read with :mod:`tomllib`; nothing is evaluated) has these tables, every
key optional unless stated. It is checked by :func:`bayesinv.studies.config.check_table`
before anything runs: an unknown table or key (with a "did you mean"), a missing required
key, a value of the wrong type (``true`` for a number included) or out of bounds is a
:class:`~bayesinv.io.UserError` naming the file and the dotted key.

.. code-block:: toml

    [study]        # the model, see JointSBCStudy: nx, nz, cell, density_sd, n_gravity,
    nx = 8         # n_rays, relative_error, noise_prior_sd, fixed_noise_scale
    nz = 4
    [sampler]      # nutpie, one chain per replicate
    draws = 200
    tune = 300
    [sbc]
    n_sims = 40    # required
    seed = 1       # required
    n_ranks = 99
    bins = 10
    alpha = 0.01
    var_names = ["density", "gravity_sigma", "muography_sigma"]
    [output]
    folder = "output/sbc"   # required; relative to the current directory
    [dask]
    scheduler = "tcp://host:8786"   # a running scheduler, or
    n_workers = 2                   # a LocalCluster of that many workers (0: no dask)

:func:`run_sbc` writes to the output folder ``ranks.json`` (every finished replicate,
rewritten atomically as they arrive; running again resumes), ``ranks.csv``, ``ranks.nc``
(a DataTree whose ``prior_sbc`` group ``arviz_plots.plot_ecdf_pit`` reads),
``chi2.csv`` (the uniformity table), ``rank_histograms.png``, ``ecdf_difference.png``,
``summary.md``, ``summary.json`` and ``provenance.json``.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from bayesinv import _progress
from bayesinv.calibration.outputs import write_sbc_outputs
from bayesinv.io import UserError, read_json, read_toml, settings_hash
from bayesinv.studies.config import REQUIRED, Key, check_table, did_you_mean
from bayesinv.studies.joint_sbc import JointSBCStudy

__all__ = ["SBCConfig", "config_from_dict", "load_sbc_config", "run_sbc"]

_D = {f.name: f.default for f in fields(JointSBCStudy)}


def _positive(name):
    return Key(float, _D[name], low=0.0, low_open=True)


def _schema(folder_required: bool) -> dict:
    """Return the schema of an SBC configuration (see :mod:`bayesinv.studies.config`)."""
    return {
        "study": {
            "nx": Key(int, _D["nx"], low=1),
            "nz": Key(int, _D["nz"], low=1),
            "cell": _positive("cell"),
            "density_sd": _positive("density_sd"),
            "n_gravity": Key(int, _D["n_gravity"], low=1),
            "n_rays": Key(int, _D["n_rays"], low=1),
            "relative_error": _positive("relative_error"),
            "noise_prior_sd": _positive("noise_prior_sd"),
            "fixed_noise_scale": _positive("fixed_noise_scale"),
        },
        "sampler": {"draws": Key(int, _D["draws"], low=1), "tune": Key(int, _D["tune"], low=0)},
        "sbc": {
            "n_sims": Key(int, low=2),
            "seed": Key(int, low=0),
            "n_ranks": Key(int, 99, low=1),
            "bins": Key(int, 10, low=2),
            "alpha": Key(float, 0.01, low=0.0, high=1.0, low_open=True, high_open=True),
            "var_names": Key(list, None, items=str, nonempty=True),
        },
        "output": {"folder": Key(str, REQUIRED if folder_required else None, nonempty=True)},
        "dask": {"scheduler": Key(str, None, nonempty=True), "n_workers": Key(int, None, low=0)},
    }


@dataclass(frozen=True)
class SBCConfig:
    """A calibration study: the model, the sampler, the SBC settings and where to write.

    Parameters
    ----------
    study : JointSBCStudy
        Model and sampler settings.
    n_sims : int
        Replicates.
    seed : int
        Study seed (replicate seeds are its ``SeedSequence`` children).
    out : Path
        Output folder.
    n_ranks : int
        Posterior draws each truth is ranked among.
    bins : int
        Bins of the chi-square test.
    alpha : float
        Family-wise level (Bonferroni over parameters).
    var_names : tuple of str, optional
        Variables checked (default: the study's).
    scheduler : str, optional
        Address of a dask scheduler.
    n_workers : int, optional
        Workers of a LocalCluster (``0``: run in this process; default: dask's choice).
    source : dict
        The configuration as read (for provenance).
    """

    study: JointSBCStudy
    n_sims: int
    seed: int
    out: Path
    n_ranks: int = 99
    bins: int = 10
    alpha: float = 0.01
    var_names: tuple | None = None
    scheduler: str | None = None
    n_workers: int | None = None
    source: dict = field(default_factory=dict, repr=False)

    def tag(self) -> str:
        """Hash of everything that determines the ranks (model, sampler, L, variables)."""
        key = {
            "study": asdict(self.study),
            "n_ranks": self.n_ranks,
            "var_names": list(self.checked_variables()),
        }
        return settings_hash(key, default=None)[:16]

    def checked_variables(self) -> tuple[str, ...]:
        """Variables whose ranks are tested."""
        return tuple(self.var_names) if self.var_names is not None else self.study.var_names


def load_sbc_config(path, *, out=None) -> SBCConfig:
    """Read and validate an SBC configuration file.

    Parameters
    ----------
    path : str or Path
        TOML file.
    out : str or Path, optional
        Output folder overriding ``output.folder``.

    Returns
    -------
    SBCConfig

    Raises
    ------
    UserError
        If the file is missing, is not valid TOML, or its configuration is wrong (see
        :func:`config_from_dict`).
    """
    return config_from_dict(read_toml(path), out=out, source=str(path))


def config_from_dict(raw: dict, *, out=None, source: str = "sbc config") -> SBCConfig:
    """Validate a configuration already parsed into a dict (see :func:`load_sbc_config`).

    Parameters
    ----------
    raw : dict
        Tables ``study``, ``sampler``, ``sbc``, ``output``, ``dask``.
    out : str or Path, optional
        Output folder overriding ``output.folder``.
    source : str
        The file the configuration comes from, starting error messages.

    Returns
    -------
    SBCConfig

    Raises
    ------
    UserError
        Naming ``source`` and the dotted key: an unknown table or key (with a suggestion), a
        missing required key (``sbc.n_sims``, ``sbc.seed``, ``output.folder`` unless ``out``
        is given), a value of the wrong type (a boolean for a number included) or out of
        bounds, or settings that do not fit together.
    """
    c = check_table(raw, _schema(out is None), source=source)
    study = JointSBCStudy(**c["study"], **c["sampler"])
    sbc = c["sbc"]
    n_ranks, bins = sbc["n_ranks"], sbc["bins"]
    if (n_ranks + 1) % bins:
        raise UserError(
            f"{source}: sbc.bins must divide sbc.n_ranks + 1 = {n_ranks + 1}, got {bins}"
        )
    if n_ranks > study.draws:
        raise UserError(
            f"{source}: sbc.n_ranks must be <= sampler.draws = {study.draws}, got {n_ranks}"
        )
    var_names = sbc["var_names"]
    if var_names is not None:
        unknown = [v for v in var_names if v not in study.var_names]
        if unknown:
            raise UserError(
                f"{source}: sbc.var_names must be drawn from {list(study.var_names)}, got "
                f"{unknown[0]!r}; {did_you_mean(unknown[0], study.var_names)}"
            )
        var_names = tuple(var_names)
    dask = c["dask"]
    if dask["scheduler"] is not None and dask["n_workers"] is not None:
        raise UserError(f"{source}: dask.n_workers cannot be combined with dask.scheduler")
    return SBCConfig(
        study=study,
        n_sims=sbc["n_sims"],
        seed=sbc["seed"],
        out=Path(out if out is not None else c["output"]["folder"]),
        n_ranks=n_ranks,
        bins=bins,
        alpha=sbc["alpha"],
        var_names=var_names,
        scheduler=dask["scheduler"],
        n_workers=dask["n_workers"],
        source=raw,
    )


def _check_results_file(config: SBCConfig, path: Path) -> None:
    """Refuse a damaged ``ranks.json``, or one of another study, before any work starts."""
    from bayesinv.calibration.runner import RESULTS_FORMAT

    state = read_json(path, "an SBC results file (ranks.json)")
    if not isinstance(state, dict) or state.get("format") != RESULTS_FORMAT:
        got = state.get("format") if isinstance(state, dict) else type(state).__name__
        raise UserError(f"{path}: damaged; expected format {RESULTS_FORMAT!r}, got {got!r}")
    for key, value in (("tag", config.tag()), ("random_seed", config.seed)):
        if state.get(key) != value:
            raise UserError(
                f"{path}: belongs to another study: its {key} differs ({state.get(key)!r} != "
                f"{value!r}); use another output folder or the same settings"
            )


def run_sbc(config: SBCConfig, *, progress=None):
    """Run (or resume) the study of ``config`` and write its outputs.

    Parameters
    ----------
    config : SBCConfig
        From :func:`load_sbc_config`.
    progress : callable, optional
        ``progress(n_done, n_sims)`` after each replicate.

    Returns
    -------
    SBCResult

    Raises
    ------
    UserError
        If the output folder is a file, or holds a ``ranks.json`` that is damaged or belongs
        to another study (other model, sampler, ``n_ranks``, variables or seed).
    """
    import contextlib

    from bayesinv.calibration.runner import simulation_based_calibration
    from bayesinv.inference.replicates import dask_client

    out = Path(config.out)
    if out.exists() and not out.is_dir():
        raise UserError(f"{out}: is a file; expected an output folder")
    if (out / "ranks.json").exists():
        _check_results_file(config, out / "ranks.json")
    out.mkdir(parents=True, exist_ok=True)
    study = config.study

    def report(done, total):
        _progress.update(done, total, unit="replicates")
        if progress is not None:
            progress(done, total)

    if config.n_workers == 0 and config.scheduler is None:
        context = contextlib.nullcontext(None)
    else:
        context = dask_client(config.scheduler, n_workers=config.n_workers)
    t0 = time.monotonic()
    _progress.stage("calibration replicates")
    with context as client:
        result = simulation_based_calibration(
            study.simulate,
            study.fit,
            config.n_sims,
            random_seed=config.seed,
            n_ranks=config.n_ranks,
            bins=config.bins,
            alpha=config.alpha,
            var_names=list(config.checked_variables()),
            client=client,
            results_file=out / "ranks.json",
            tag=config.tag(),
            progress=report,
        )
    wall = time.monotonic() - t0
    _progress.stage("write outputs")
    write_sbc_outputs(result, out, config=config, wall_time=wall)
    return result
