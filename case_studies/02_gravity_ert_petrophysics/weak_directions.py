"""Case study 02: the weakest directions of the Laplace approximation, and how Gaussian they are.

For one inversion (``separate`` or ``joint``) at one size: the MAP, the Laplace
approximation in the model's whitened coordinates, then for the ``n`` directions the
Laplace approximation finds widest (largest sd relative to the prior's), the cells they
involve and the log posterior along the straight line through the MAP, at -3..3 Laplace
standard deviations, beside the Gaussian's ``-t^2/2``. A posterior that is Gaussian along a
direction gives the same numbers; a curved ridge or a second mode does not. Usage::

    python case_studies/02_gravity_ert_petrophysics/weak_directions.py full separate [n]
"""

import sys
from pathlib import Path

import numpy as np

from bayesinv.inference import find_map, laplace
from bayesinv.inference.preconditioning import unconstrained_layout
from bayesinv.studies.runner import check_config, load_config, load_study

HERE = Path(__file__).resolve().parent


def main(size: str, inversion: str, n: int = 3) -> None:
    """Print the ``n`` widest Laplace directions, their cells and their log-density profiles."""
    study = load_study(HERE)
    cfg = check_config(load_config(HERE, size), study.REQUIRED, HERE.name)
    model = study._model(study._survey(cfg), cfg, inversion == "joint")
    estimate = find_map(model, random_seed=cfg["seed"])
    point = {v.name: estimate[v.name] for v in model.value_vars}
    approx = laplace(
        model, point, draws=4, chains=1, random_seed=1, step=cfg["hessian_step"], mode=None
    )
    g, layout = approx.gaussian, unconstrained_layout(model)
    lam = approx.info["min_eig"]
    print(f"{size} {inversion}: min eigenvalue of the whitened Hessian {lam:.3f}")
    x0 = np.concatenate([np.ravel(point[name]) for name, _ in layout])
    logp = model.compile_logp()

    def at(x):
        values, i = {}, 0
        for name, shape in layout:
            k = int(np.prod(shape))
            values[name], i = x[i : i + k].reshape(shape), i + k
        return float(logp(values))

    ref = at(x0)
    steps = np.arange(-3, 4)
    for j in np.argsort(g.factors)[::-1][:n]:
        v, sd, i = g.basis[:, j], g.factors[j], 0
        print(f"direction with sd {sd:.2f} x the prior's:")
        for name, shape in layout:
            k = int(np.prod(shape))
            part, i = v[i : i + k], i + k
            top = [t for t in np.argsort(-np.abs(part))[:6] if abs(part[t]) > 0.1]
            cells = [
                (int(t // shape[-1]), int(t % shape[-1]), round(float(part[t]), 2)) for t in top
            ]
            if cells:
                print(f"  {name} (row, column, weight): {cells}")
        profile = [at(x0 + t * sd * v) - ref for t in steps]
        print(f"  log p - log p(MAP) at t = {steps.tolist()} sd: {np.round(profile, 1).tolist()}")
        print(f"  Gaussian:                                  {(-0.5 * steps**2.0).tolist()}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], *(int(a) for a in sys.argv[3:]))
