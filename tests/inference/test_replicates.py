"""The dask.distributed replicate runner: indices, errors, scheduler addresses."""

import math
import operator

import pytest

from bayesinv.inference.replicates import dask_client, run_replicates


def test_serial_map_yields_in_task_order():
    assert list(run_replicates(operator.neg, [1, 2, 3])) == [(0, -1), (1, -2), (2, -3)]


@pytest.fixture(scope="module")
def scheduler_address():
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        yield cluster.scheduler_address


def test_client_at_a_scheduler_address_returns_every_task_by_index(scheduler_address):
    with dask_client(scheduler_address) as client:
        out = dict(run_replicates(operator.neg, list(range(20)), client=client))
        # a second study on the same client gets its own task keys
        again = dict(run_replicates(operator.neg, list(range(20)), client=client))
    assert out == {i: -i for i in range(20)} == again


def test_an_error_in_a_task_is_raised(scheduler_address):
    with dask_client(scheduler_address) as client, pytest.raises(ValueError, match="math"):
        list(run_replicates(math.sqrt, [1.0, -1.0, 4.0], client=client))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"address": ""}, "address must be a non-empty string"),
        ({"n_workers": 0}, "n_workers must be an integer >= 1"),
    ],
)
def test_bad_client_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message), dask_client(**kwargs):
        pass
