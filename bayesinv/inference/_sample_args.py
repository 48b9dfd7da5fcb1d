"""The closed argument list of :func:`bayesinv.inference.sampling.sample`: checks and refusals."""

from __future__ import annotations

import difflib

from bayesinv import _checks

#: samplers accepted by :func:`~bayesinv.inference.sampling.sample`
SAMPLERS = {"nutpie": "nutpie", "pymc": "pymc"}

_WHERE = "sample"

#: nutpie's mass-matrix adaptations accepted by ``sample(adaptation=...)``
ADAPTATIONS = ("diag", "low_rank", "draw_diag")

#: the default, chosen by measurement (benchmarks/bench_samplers.py, docs/samplers.md)
DEFAULT_ADAPTATION = "diag"


def refuse(unknown: dict, accepted: list[str]):
    """Raise a TypeError naming the unknown arguments (with the closest accepted name)."""
    parts = []
    for key in sorted(unknown):
        if key in ("nuts_sampler_kwargs", "nuts_kwargs"):
            parts.append(f"{key!r} (pass sampler options as nuts={{...}})")
            continue
        close = difflib.get_close_matches(key, accepted, n=1)
        parts.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    raise TypeError(
        f"{_WHERE}: unknown argument(s) {', '.join(parts)}; accepted: {', '.join(accepted)}"
    )


def check(args: dict, *, compiled: bool, sampler: str) -> dict:
    """Validate the arguments of :func:`sample`; return the sampler options."""
    _checks.check_choice(sampler, _WHERE, "sampler", SAMPLERS)
    out = {
        "draws": _checks.check_int(args["draws"], _WHERE, "draws", low=1),
        "tune": _checks.check_int(args["tune"], _WHERE, "tune", low=0),
        "chains": _checks.check_int(args["chains"], _WHERE, "chains", low=1),
        "cores": None,
        "nuts": {},
        "save_warmup": bool(args["save_warmup"]),
    }
    if args["cores"] is not None:
        out["cores"] = _checks.check_int(args["cores"], _WHERE, "cores", low=1)
    if args["nuts"] is not None:
        if not isinstance(args["nuts"], dict):
            raise TypeError(f"{_WHERE}: nuts must be a dict of sampler options")
        out["nuts"] = dict(args["nuts"])
    if args["target_accept"] is not None:
        if "target_accept" in out["nuts"]:
            raise ValueError(f"{_WHERE}: target_accept given twice (argument and nuts)")
        out["nuts"]["target_accept"] = _checks.check_float(
            args["target_accept"],
            _WHERE,
            "target_accept",
            low=0,
            high=1,
            low_open=True,
            high_open=True,
        )
    if args["adaptation"] is not None:
        _checks.check_choice(args["adaptation"], _WHERE, "adaptation", ADAPTATIONS)
        if "adaptation" in out["nuts"]:
            raise ValueError(f"{_WHERE}: adaptation given twice (argument and nuts)")
        if sampler != "nutpie":
            raise ValueError(f"{_WHERE}: adaptation is an option of sampler='nutpie'")
        out["nuts"]["adaptation"] = args["adaptation"]
    elif sampler == "nutpie":
        out["nuts"].setdefault("adaptation", DEFAULT_ADAPTATION)
    if args["initvals"] is not None and not isinstance(args["initvals"], dict):
        raise TypeError(f"{_WHERE}: initvals must be one dict for all chains")
    out["initvals"], out["var_names"] = args["initvals"], args["var_names"]
    out["init"] = "auto" if args["jitter"] else "adapt_diag"
    if compiled and (args["initvals"], args["var_names"], args["jitter"]) != (None, None, True):
        raise ValueError(
            f"{_WHERE}: initvals, var_names and jitter of a CompiledModel are set by compile_model"
        )
    if sampler == "pymc" and (
        compiled or args["time_budget"] is not None or args["save_to"] is not None
    ):
        raise ValueError(
            f"{_WHERE}: time_budget, save_to and a CompiledModel need sampler='nutpie'"
        )
    if args["time_budget"] is not None:
        _checks.check_positive(args["time_budget"], _WHERE, "time_budget", units="s")
    if args["blas_threads"] is not None:
        _checks.check_int(args["blas_threads"], _WHERE, "blas_threads", low=1)
    return out
