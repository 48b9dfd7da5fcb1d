"""Same seed, same result: under load, with concurrency, and whatever the compile cache holds.

These tests reproduce the conditions of the defect of issue 13 (SBC ranks of a serial run and
of a dask LocalCluster run differed with the same seed): the machine is loaded by a busy-loop
subprocess, replicates and chains run concurrently in threads and in processes, and PyTensor's
on-disk numba cache starts empty, so that this process compiles its kernels while the worker
processes (and later calls) load them from the cache. With PyTensor's fast-math flags the two
programs rounded differently by an ulp and NUTS turned that into different chains;
:func:`bayesinv._seeds.reproducible_compilation` is the fix these tests guard.
"""

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import bayesinv
from bayesinv.calibration.runner import simulation_based_calibration
from bayesinv.inference.replicates import dask_client
from bayesinv.studies.joint_sbc import JointSBCStudy

#: longest a busy loop may run, whatever happens to the test that started it (s)
BUSY_SECONDS = 900
#: a study of its own (not shared with other test modules), so that this process compiles it
#: here, from a cold cache
STUDY = JointSBCStudy(nx=4, nz=3, n_gravity=6, n_rays=6, draws=100, tune=150)


@pytest.fixture
def busy_machine():
    """Load the machine with one busy-loop process, bounded in time, always killed."""
    loop = f"import time\nt = time.monotonic()\nwhile time.monotonic() - t < {BUSY_SECONDS}: pass"
    proc = subprocess.Popen([sys.executable, "-c", loop])
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait(timeout=30)


@pytest.fixture
def cold_compile_cache(tmp_path, monkeypatch):
    """An empty on-disk numba cache for PyTensor, here and in the worker processes we start.

    This process compiles every kernel afresh and writes it to the cache; worker processes
    (given the same ``base_compiledir``) and later compilations here load it from there.
    """
    from pytensor.link.numba import cache

    (tmp_path / "numba").mkdir()
    monkeypatch.setattr(cache, "NUMBA_CACHE_PATH", tmp_path / "numba")
    monkeypatch.setenv("PYTENSOR_FLAGS", f"base_compiledir={tmp_path}")
    return tmp_path


def run(n_sims, seed, **kwargs):
    return simulation_based_calibration(
        STUDY.simulate,
        STUDY.fit,
        n_sims,
        random_seed=seed,
        var_names=list(STUDY.var_names),
        bins=4,
        **kwargs,
    )


@pytest.mark.slow
def test_sbc_ranks_are_the_same_serially_in_threads_and_in_processes(
    busy_machine, cold_compile_cache
):
    serial = run(4, seed=9)
    with ThreadPoolExecutor(3) as pool:
        threaded = run(4, seed=9, map=pool.map)
    with dask_client(n_workers=2) as client:
        processes = run(4, seed=9, client=client)
    assert busy_machine.poll() is None, "the machine was not under load throughout"
    assert serial.seeds == threaded.seeds == processes.seeds
    assert set(serial.ranks) == {"density", "gravity_sigma", "muography_sigma"}
    for name in serial.ranks:
        np.testing.assert_array_equal(serial.ranks[name], threaded.ranks[name], err_msg=name)
        np.testing.assert_array_equal(serial.ranks[name], processes.ranks[name], err_msg=name)
    # negative control: the ranks do depend on the seed
    other = run(4, seed=10)
    assert not np.array_equal(serial.ranks["density"], other.ranks["density"])


def sample_draws(seed):
    """Draws of the calibration study's joint inversion, four chains in threads.

    Its forward maps are :class:`~bayesinv.ops.ForwardOp`, as in every bayesinv model: such a
    graph is not cached as a whole, so its compiled log density mixes kernels compiled in the
    process with kernels loaded from the cache.
    """
    model, _ = JointSBCStudy(nx=5, nz=3).fitted_model()
    idata = bayesinv.sample(
        model, draws=200, tune=300, chains=4, random_seed=seed, cores=4, progressbar=False
    )
    return np.concatenate([idata.posterior[v].values.ravel() for v in ("density", "gravity_sigma")])


#: run by a fresh interpreter: import this file and save ``sample_draws(seed)``
SUBPROCESS = """
import importlib.util, sys
import numpy as np
spec = importlib.util.spec_from_file_location("determinism", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
np.save(sys.argv[3], module.sample_draws(int(sys.argv[2])))
"""


@pytest.mark.slow
def test_sample_with_chains_in_threads_gives_the_same_draws_for_the_same_seed(
    busy_machine, cold_compile_cache
):
    first = sample_draws(11)  # compiled here, written to the empty cache
    again = sample_draws(11)  # the same compiled kernels, chains in threads again
    out = cold_compile_cache / "draws.npy"
    # another process loads the kernels from the cache this process wrote
    subprocess.run(
        [sys.executable, "-c", SUBPROCESS, __file__, "11", str(out)], check=True, timeout=600
    )
    elsewhere = np.load(out)
    assert busy_machine.poll() is None, "the machine was not under load throughout"
    np.testing.assert_array_equal(first, again)
    np.testing.assert_array_equal(first, elsewhere)
    # negative control: another seed gives other draws
    assert not np.array_equal(first, sample_draws(12))


def test_reproducible_compilation_is_counted_across_threads():
    import threading

    import pytensor

    from bayesinv import _seeds

    before = pytensor.config.numba__fastmath
    entered, release_a, a_done = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def a():
        with _seeds.reproducible_compilation():
            entered.set()
            release_a.wait(10)
        a_done.set()

    thread = threading.Thread(target=a)
    with pytensor.config.change_flags(numba__fastmath=True):
        thread.start()
        entered.wait(10)
        with _seeds.reproducible_compilation():
            release_a.set()
            a_done.wait(10)  # the other thread left: the flag stays off for this one
            seen["inside"] = pytensor.config.numba__fastmath
        seen["after"] = pytensor.config.numba__fastmath
        thread.join(10)
    assert seen == {"inside": False, "after": True}
    assert pytensor.config.numba__fastmath == before
