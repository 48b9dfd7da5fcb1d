"""Run independent replicates in parallel with dask.distributed, yielding them as they finish.

Independent work (SBC replicates, sweeps) is spread with dask.distributed: a
``LocalCluster`` on this machine by default, or the scheduler of a real cluster given by its
address. bayesinv writes no scheduler of its own. Every task carries its own seed, so results
do not depend on which worker ran it or in which order tasks finished.
"""

from __future__ import annotations

import contextlib

from bayesinv._checks import check_int

__all__ = ["dask_client", "run_replicates"]


@contextlib.contextmanager
def dask_client(address: str | None = None, *, n_workers: int | None = None):
    """Open a dask.distributed client: a new ``LocalCluster`` or an existing scheduler.

    Parameters
    ----------
    address : str, optional
        Scheduler address (e.g. ``"tcp://10.0.0.5:8786"``). Without it a ``LocalCluster``
        of ``n_workers`` single-threaded worker processes is started and closed on exit.
    n_workers : int, optional
        Workers of the local cluster (default: dask's choice, one per core). Ignored with
        ``address``.

    Yields
    ------
    distributed.Client
    """
    from distributed import Client, LocalCluster

    if address is not None:
        if not isinstance(address, str) or not address:
            raise ValueError(f"dask_client: address must be a non-empty string, got {address!r}")
        with Client(address) as client:
            yield client
        return
    if n_workers is not None:
        n_workers = check_int(n_workers, "dask_client", "n_workers", low=1)
    with (
        LocalCluster(
            n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def run_replicates(function, tasks, *, client=None, map=map, key_prefix: str = "replicate"):
    """Apply ``function`` to each task, yielding ``(index, result)`` as results arrive.

    Parameters
    ----------
    function : callable
        ``function(task) -> result``; must be picklable (cloudpickle) with ``client``.
    tasks : sequence
        The tasks, in order; ``index`` refers to this order.
    client : distributed.Client, optional
        Submit every task to this client and yield results in completion order. On an
        error or interruption the unfinished tasks are cancelled and the error re-raised.
    map : callable
        Used without ``client``: ``map(function, tasks)`` (built-in ``map`` runs serially;
        ``ThreadPoolExecutor.map`` in threads); results are yielded in task order, each as
        soon as the map produces it.
    key_prefix : str
        Prefix of the dask task keys (``{prefix}-{token}-{index}``, token unique per call).

    Yields
    ------
    tuple of (int, object)
    """
    tasks = list(tasks)
    if client is None:
        yield from enumerate(map(function, tasks))
        return
    from uuid import uuid4

    from distributed import as_completed

    token = uuid4().hex[:8]  # keys unique per call: a client may run several studies
    futures = [
        client.submit(function, task, key=f"{key_prefix}-{token}-{i}", pure=False)
        for i, task in enumerate(tasks)
    ]
    index = {future.key: i for i, future in enumerate(futures)}
    try:
        for future in as_completed(futures):
            yield index[future.key], future.result()
    finally:
        pending = [f for f in futures if not f.done()]
        if pending:
            client.cancel(pending)
