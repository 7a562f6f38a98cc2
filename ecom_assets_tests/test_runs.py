"""Runs whose process died are failed by the next run on the host and free the lake's pool."""

import subprocess
from collections.abc import Iterator

import dagster as dg
import pytest

from ecom_assets.runs import HOST_TAG, PID_TAG, WRITERS_POOL, fail_dead_runs, process_alive


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as test_instance:
        test_instance.event_log_storage.set_concurrency_slots(WRITERS_POOL, 1)
        yield test_instance


def _dead_pid() -> int:
    """The id of a process that has ended (and was reaped)."""
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def _started_run(instance: dg.DagsterInstance, host: str, pid: int) -> str:
    """A run recorded as STARTED on `host` by process `pid`, holding a slot of the pool."""
    run = instance.create_run_for_job(
        dg.GraphDefinition(name="load", node_defs=[]).to_job(),
        tags={HOST_TAG: host, PID_TAG: str(pid)},
    )
    instance.handle_new_event(
        dg.EventLogEntry(
            error_info=None,
            level="DEBUG",
            user_message="",
            run_id=run.run_id,
            timestamp=0.0,
            dagster_event=dg.DagsterEvent(
                event_type_value=dg.DagsterEventType.RUN_START.value, job_name="load"
            ),
        )
    )
    claim = instance.event_log_storage.claim_concurrency_slot(
        WRITERS_POOL, run.run_id, "bronze__orders"
    )
    assert claim.is_claimed
    return run.run_id


def _status(instance: dg.DagsterInstance, run_id: str) -> dg.DagsterRunStatus:
    run = instance.get_run_by_id(run_id)
    assert run is not None
    return run.status


def test_a_run_whose_process_is_gone_is_failed_and_frees_its_slot(instance) -> None:
    dead = _started_run(instance, "shop-box", _dead_pid())
    assert _status(instance, dead) == dg.DagsterRunStatus.STARTED
    assert fail_dead_runs(instance, "current-run", host="shop-box") == [dead]
    assert _status(instance, dead) == dg.DagsterRunStatus.FAILURE
    info = instance.event_log_storage.get_concurrency_info(WRITERS_POOL)
    assert info.active_slot_count == 0


def test_live_runs_and_runs_of_other_hosts_are_left_alone(instance) -> None:
    import os

    instance.event_log_storage.set_concurrency_slots(WRITERS_POOL, 2)
    live = _started_run(instance, "shop-box", os.getpid())
    elsewhere = _started_run(instance, "other-box", _dead_pid())
    assert fail_dead_runs(instance, "current-run", host="shop-box") == []
    assert _status(instance, live) == dg.DagsterRunStatus.STARTED
    assert _status(instance, elsewhere) == dg.DagsterRunStatus.STARTED
    assert instance.event_log_storage.get_concurrency_info(WRITERS_POOL).active_slot_count == 2


def test_process_alive_tells_a_running_process_from_an_ended_one() -> None:
    import os

    assert process_alive(os.getpid())
    assert not process_alive(_dead_pid())
