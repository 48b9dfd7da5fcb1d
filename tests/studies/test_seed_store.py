"""The per-seed store of long studies: finished seeds are kept and read back, never lost."""

import json

import numpy as np
import pytest

from bayesinv.io import UserError
from bayesinv.studies.seed_store import run_seeds, split_sampled


def _counting():
    calls = []

    def compute(i, seed):
        calls.append(i)
        value = float(np.random.default_rng(seed).normal())
        return [{"seed": i, "value": value, "nan": float("nan"), "ok": value > 0}], ("r", i)

    return compute, calls


def test_rows_are_kept_and_read_back(tmp_path):
    compute, calls = _counting()
    rows, first = run_seeds(tmp_path, {"a": 1}, [5, 6, 7], compute)
    assert calls == [0, 1, 2] and first == ("r", 0)
    again, first2 = run_seeds(tmp_path, {"a": 1}, [5, 6, 7], compute)
    assert calls == [0, 1, 2, 0]  # only replicate 0 again, for its in-memory result
    assert first2 == ("r", 0)
    assert [r["value"] for r in again] == [r["value"] for r in rows]
    assert [r["ok"] for r in again] == [r["ok"] for r in rows]
    assert np.isnan(again[0]["nan"])
    run_seeds(tmp_path, {"a": 1}, [5, 6, 7], compute, keep_first=False)
    assert calls == [0, 1, 2, 0]  # nothing computed at all


def test_a_crash_keeps_the_finished_seeds(tmp_path):
    compute, calls = _counting()

    def crashing(i, seed):
        if i == 2:
            raise RuntimeError("killed")
        return compute(i, seed)

    with pytest.raises(RuntimeError):
        run_seeds(tmp_path, {"a": 1}, [5, 6, 7], crashing)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["seed_000.json", "seed_001.json"]
    run_seeds(tmp_path, {"a": 1}, [5, 6, 7], compute, keep_first=False)
    assert calls == [0, 1, 2]


def test_other_settings_or_seeds_are_computed_again(tmp_path):
    compute, calls = _counting()
    run_seeds(tmp_path, {"a": 1}, [5, 6], compute, keep_first=False)
    run_seeds(tmp_path, {"a": 2}, [5, 6], compute, keep_first=False)
    assert calls == [0, 1, 0, 1]
    run_seeds(tmp_path, {"a": 2}, [5, 9], compute, keep_first=False)
    assert calls == [0, 1, 0, 1, 1]


def test_only_sampling_replicates_depend_on_the_sampler(tmp_path):
    compute, calls = _counting()
    config = {"nx": 8, "nuts_seeds": 1, "draws": 10, "tune": 10, "chains": 2, "n_seeds": 3}

    def run(changes, seeds):
        config.update(changes)
        settings, per_seed = split_sampled(config)
        run_seeds(tmp_path, settings, seeds, compute, per_seed=per_seed, keep_first=False)
        return settings

    settings = run({}, [1, 2, 3])
    assert "draws" not in settings and "nuts_seeds" not in settings and settings["nx"] == 8
    run({"draws": 20, "nuts_seeds": 2}, [1, 2, 3])
    assert calls == [0, 1, 2, 0, 1]  # the sampled replicates only
    run({"n_seeds": 5}, [1, 2, 3, 4, 5])
    assert calls == [0, 1, 2, 0, 1, 3, 4]  # more seeds: only the new ones
    run({"nuts_adaptation": "low_rank"}, [1, 2, 3, 4, 5])  # another NUTS adaptation
    assert calls == [0, 1, 2, 0, 1, 3, 4, 0, 1]  # the sampled replicates only
    run({"map_ftol": None}, [1, 2, 3, 4, 5])  # an optional setting left unset: nothing
    assert calls == [0, 1, 2, 0, 1, 3, 4, 0, 1]
    run({"map_ftol": 1e-10}, [1, 2, 3, 4, 5])  # ... and set: every replicate again
    assert calls == [0, 1, 2, 0, 1, 3, 4, 0, 1, 0, 1, 2, 3, 4]


def test_a_damaged_file_is_a_clear_error_and_is_not_overwritten(tmp_path):
    compute, _ = _counting()
    run_seeds(tmp_path, {"a": 1}, [5], compute, keep_first=False)
    path = tmp_path / "seed_000.json"
    path.write_text('{"format": "bayesinv-seed-rows-1", "tag":')
    with pytest.raises(UserError, match=r"seed_000\.json"):
        run_seeds(tmp_path, {"a": 1}, [5], compute)
    path.write_text(json.dumps({"format": "something else"}))
    with pytest.raises(UserError, match=r"seed_000\.json.*damaged"):
        run_seeds(tmp_path, {"a": 1}, [5], compute)
    assert json.loads(path.read_text()) == {"format": "something else"}
