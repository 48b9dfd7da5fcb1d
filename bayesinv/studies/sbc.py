"""A simulation-based calibration study run from a TOML configuration (``bayesinv sbc``).

The configuration (read with :mod:`tomllib`; nothing is evaluated) has these tables, every
key optional unless stated:

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

import hashlib
import json
import time
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from bayesinv.calibration.outputs import write_sbc_outputs
from bayesinv.studies.joint_sbc import JointSBCStudy

__all__ = ["SBCConfig", "config_from_dict", "load_sbc_config", "run_sbc"]

_STUDY_KEYS = {f.name for f in fields(JointSBCStudy) if f.name not in ("draws", "tune")}
_KEYS = {
    "study": _STUDY_KEYS,
    "sampler": {"draws", "tune"},
    "sbc": {"n_sims", "seed", "n_ranks", "bins", "alpha", "var_names"},
    "output": {"folder"},
    "dask": {"scheduler", "n_workers"},
}
_REQUIRED = {"sbc": {"n_sims", "seed"}, "output": {"folder"}}


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
        return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]

    def checked_variables(self) -> tuple[str, ...]:
        """Variables whose ranks are tested."""
        return tuple(self.var_names) if self.var_names is not None else self.study.var_names


def _fail(key: str, message: str):
    raise ValueError(f"sbc config: key {key!r} {message}")


def _int(table, section, key, low, default=None):
    full = f"{section}.{key}"
    if key not in table:
        return default
    value = table[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        _fail(full, f"must be an integer >= {low}, got {value!r}")
    return value


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
    """
    path = Path(path)
    try:
        with path.open("rb") as f:
            raw = tomllib.load(f)
    except OSError as err:
        raise ValueError(f"sbc config: cannot read {str(path)!r} ({err})") from None
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"sbc config: {str(path)!r} is not valid TOML ({err})") from None
    return config_from_dict(raw, out=out)


def config_from_dict(raw: dict, *, out=None) -> SBCConfig:
    """Validate a configuration already parsed into a dict (see :func:`load_sbc_config`).

    Parameters
    ----------
    raw : dict
        Tables ``study``, ``sampler``, ``sbc``, ``output``, ``dask``.
    out : str or Path, optional
        Output folder overriding ``output.folder``.

    Returns
    -------
    SBCConfig
    """
    for section, table in raw.items():
        if section not in _KEYS:
            _fail(section, f"is not a known table; expected one of {sorted(_KEYS)}")
        if not isinstance(table, dict):
            _fail(section, "must be a table ([section])")
        for key in table:
            if key not in _KEYS[section]:
                _fail(f"{section}.{key}", f"is unknown; {section} takes {sorted(_KEYS[section])}")
    for section, keys in _REQUIRED.items():
        for key in sorted(keys):
            if key not in raw.get(section, {}) and not (section == "output" and out is not None):
                _fail(f"{section}.{key}", "is required")
    study_kw = dict(raw.get("study", {}))
    sampler = raw.get("sampler", {})
    for key in ("draws", "tune"):
        value = _int(sampler, "sampler", key, 1 if key == "draws" else 0)
        if value is not None:
            study_kw[key] = value
    try:
        study = JointSBCStudy(**study_kw)
    except ValueError as err:  # "JointSBCStudy: <name> must ..."
        name, rest = str(err).split(": ", 1)[1].split(" ", 1)
        _fail(f"{'sampler' if name in ('draws', 'tune') else 'study'}.{name}", rest)
    sbc = raw["sbc"]
    n_sims = _int(sbc, "sbc", "n_sims", 2)
    seed = _int(sbc, "sbc", "seed", 0)
    n_ranks = _int(sbc, "sbc", "n_ranks", 1, 99)
    bins = _int(sbc, "sbc", "bins", 2, 10)
    if (n_ranks + 1) % bins:
        _fail("sbc.bins", f"must divide n_ranks + 1 = {n_ranks + 1}, got {bins}")
    if n_ranks > study.draws:
        _fail("sbc.n_ranks", f"must be <= sampler.draws = {study.draws}, got {n_ranks}")
    alpha = sbc.get("alpha", 0.01)
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha < 1:
        _fail("sbc.alpha", f"must be a number in (0, 1), got {alpha!r}")
    var_names = sbc.get("var_names")
    if var_names is not None:
        generative = study.var_names
        if (
            not isinstance(var_names, list)
            or not var_names
            or any(not isinstance(v, str) or v not in generative for v in var_names)
        ):
            _fail("sbc.var_names", f"must be a non-empty list drawn from {list(generative)}")
        var_names = tuple(var_names)
    folder = out if out is not None else raw["output"]["folder"]
    if not isinstance(folder, str | Path) or not str(folder):
        _fail("output.folder", f"must be a non-empty string, got {folder!r}")
    dask = raw.get("dask", {})
    scheduler = dask.get("scheduler")
    if scheduler is not None and (not isinstance(scheduler, str) or not scheduler):
        _fail("dask.scheduler", f"must be a scheduler address string, got {scheduler!r}")
    n_workers = _int(dask, "dask", "n_workers", 0)
    if scheduler is not None and n_workers is not None:
        _fail("dask.n_workers", "cannot be combined with dask.scheduler")
    return SBCConfig(
        study=study,
        n_sims=n_sims,
        seed=seed,
        out=Path(folder),
        n_ranks=n_ranks,
        bins=bins,
        alpha=float(alpha),
        var_names=var_names,
        scheduler=scheduler,
        n_workers=n_workers,
        source=raw,
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
    """
    import contextlib

    from bayesinv.calibration.runner import simulation_based_calibration
    from bayesinv.inference.replicates import dask_client

    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    study = config.study
    if config.n_workers == 0 and config.scheduler is None:
        context = contextlib.nullcontext(None)
    else:
        context = dask_client(config.scheduler, n_workers=config.n_workers)
    t0 = time.monotonic()
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
            progress=progress,
        )
    wall = time.monotonic() - t0
    write_sbc_outputs(result, out, config=config, wall_time=wall)
    return result
