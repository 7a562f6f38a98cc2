"""Runs whose process died: found and failed, so they free their place in the lake's pool.

A run killed with SIGKILL (or a machine that lost power) never reports that it ended: Dagster
keeps it STARTED and the concurrency-pool slot its load step held stays taken, so every later
load would wait forever. Dagster's run monitoring cannot see this for runs of `dagster job
execute` or of the default run launcher (they have no worker health check), so each run tags
itself with its host and process id, and the next run on the same host fails the tagged runs
whose process is gone and frees their slots, before its own load steps ask for one.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable

import dagster as dg

WRITERS_POOL = "ecom_writers"
"""The concurrency pool of the steps two runs must not take at once: bronze and silver (they add
to the lake) and the model (it registers in MLflow). With the pool's limit of 1 (dagster.yaml), a
second run's step waits until the first run's has committed, on every launch path."""
HOST_TAG = "ecom/host"
PID_TAG = "ecom/pid"
_UNFINISHED = [
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


def process_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def tag_current_run(instance: dg.DagsterInstance, run_id: str) -> None:
    """Record on the run which host and process execute it."""
    instance.add_run_tags(run_id, {HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid())})


def fail_dead_runs(
    instance: dg.DagsterInstance,
    current_run_id: str,
    host: str | None = None,
    alive: Callable[[int], bool] = process_alive,
) -> list[str]:
    """Fail every unfinished run tagged with this host whose process is gone, free the pool slots
    it held, and return their ids. Runs of other hosts are left alone: their processes cannot be
    seen from here."""
    host = host or socket.gethostname()
    failed = []
    for record in instance.get_run_records(dg.RunsFilter(statuses=_UNFINISHED)):
        run = record.dagster_run
        pid = run.tags.get(PID_TAG, "")
        if run.run_id == current_run_id or run.tags.get(HOST_TAG) != host or not pid.isdigit():
            continue
        if alive(int(pid)):
            continue
        instance.report_run_failed(
            run,
            message=f"Run {run.run_id} failed: its process (pid {pid} on {host}) is gone, killed "
            "or crashed; a later run found it and freed its place in the ecom_writers pool.",
        )
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        failed.append(run.run_id)
    return failed
