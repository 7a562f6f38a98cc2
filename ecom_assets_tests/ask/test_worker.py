"""The time limit: every query runs in a worker process that is killed at the deadline.

The slow query is a four-way self-join of monthly_sales on category (billions of rows on the
test tables; it takes seconds to minutes, never 0.2 s), let past the row budget on purpose. The
tests assert what happened (refused, the worker process gone, no child left running), never how
long a normal query took.
"""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ecom_assets.ask import Asker, main
from ecom_assets.ask.model import load_model
from ecom_assets.ask.worker import HELD_TABLE_SETS, QueryFailed, QueryWorker

SLOW = (
    "SELECT COUNT(*) AS n FROM monthly_sales AS a JOIN monthly_sales AS b ON a.category = "
    "b.category JOIN monthly_sales AS c ON b.category = c.category JOIN monthly_sales AS d "
    "ON c.category = d.category"
)
QUESTION = "Top 5 products by predicted revenue"


def _running(pid: int) -> bool:
    """Whether a process exists and is not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _children() -> set[int]:
    """The processes this test process started that still run."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[1]) == os.getpid() and fields[0] != "Z":
            found.add(int(stat.parent.name))
    return found


def _gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while _running(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not _running(pid)


@pytest.fixture
def worker() -> Iterator[QueryWorker]:
    """A query worker of the test's own, stopped afterwards."""
    own = QueryWorker()
    yield own
    own.stop()


def test_a_slow_query_is_stopped_at_the_limit_and_its_process_is_gone(
    frames, worker: QueryWorker
) -> None:
    asker = Asker(frames=frames, timeout=0.2, row_budget=10**15, worker=worker)
    assert asker.ask("SELECT COUNT(*) AS n FROM category_metrics").rows == [[5]]
    pid = worker.pid
    assert pid is not None and pid in _children()
    answer = asker.ask(SLOW)
    assert answer.refused and not answer.understood
    assert answer.answer == (
        "Refused: the query ran longer than the 0.2 s time limit (ECOM_ASK_TIMEOUT) and was "
        "stopped; narrow the question: ask about one product, category or period, join fewer "
        "tables, or aggregate first."
    )
    assert not _running(pid)
    assert worker.pid is None and pid not in _children()
    asker.timeout = 30
    assert len(asker.ask(QUESTION).rows) == 5
    assert worker.pid not in (None, pid)


def test_starting_the_worker_and_loading_tables_do_not_count_against_the_limit(
    frames, worker: QueryWorker
) -> None:
    worker.stop()
    assert worker.pid is None
    asker = Asker(frames=frames, timeout=1.0, worker=worker)
    assert len(asker.ask(QUESTION).rows) == 5


def test_every_question_runs_in_the_worker_not_in_this_process(
    frames, worker: QueryWorker, monkeypatch: pytest.MonkeyPatch
) -> None:
    asker = Asker(frames=frames, worker=worker)
    seen: list[str] = []
    run = worker.run
    monkeypatch.setattr(worker, "run", lambda *args: seen.append(args[2]) or run(*args))
    answers = [
        asker.ask(question)
        for question in (QUESTION, "Monthly revenue for Books in 2025", "SELECT 1 AS x")
    ]
    assert all(answer.understood for answer in answers)
    assert seen == [answer.sql for answer in answers]


def test_a_worker_killed_from_outside_is_started_again(frames, worker: QueryWorker) -> None:
    asker = Asker(frames=frames, worker=worker)
    assert asker.ask(QUESTION).understood
    pid = worker.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    assert _gone_within(pid, 10)
    answer = asker.ask(QUESTION)
    assert len(answer.rows) == 5, answer.answer
    assert worker.pid not in (None, pid)


def test_a_worker_that_dies_in_a_query_is_reported_as_a_failure(
    frames, worker: QueryWorker
) -> None:
    asker = Asker(frames=frames, timeout=60, row_budget=10**15, worker=worker)
    assert asker.ask(QUESTION).understood
    pid = worker.pid
    assert pid is not None
    threading.Timer(0.3, os.kill, (pid, signal.SIGKILL)).start()
    with pytest.raises(QueryFailed, match="the query worker stopped unexpectedly"):
        asker.execute(SLOW)
    assert not _running(pid) and worker.pid is None


def test_engines_share_one_worker_and_keep_their_own_tables(frames, worker: QueryWorker) -> None:
    count = "SELECT COUNT(*) AS n FROM product_decisions"
    askers = [
        Asker(frames={name: frame.head(size) for name, frame in frames.items()}, worker=worker)
        for size in range(1, HELD_TABLE_SETS + 3)
    ]
    for size, asker in enumerate(askers, start=1):
        assert asker.ask(count).rows == [[size]]
    assert askers[0].ask(count).rows == [[1]], "tables sent again after the worker dropped them"
    pid = worker.pid
    del askers[1:]
    gc.collect()
    assert askers[0].ask(count).rows == [[1]]
    assert Asker(frames=frames, worker=worker).ask(count).rows == [[30]]
    assert worker.pid == pid


def test_the_time_limit_is_a_setting(frames, monkeypatch: pytest.MonkeyPatch) -> None:
    assert Asker(frames=frames).timeout == load_model().timeout_seconds == 5
    monkeypatch.setenv("ECOM_ASK_TIMEOUT", "0.5")
    assert Asker(frames=frames).timeout == 0.5
    assert Asker(frames=frames, timeout=2).timeout == 2
    for bad in ("soon", "0", "-1"):
        monkeypatch.setenv("ECOM_ASK_TIMEOUT", bad)
        assert Asker(frames=frames).timeout == 5


def test_ecom_ask_refuses_a_slow_query_with_exit_code_2(
    lake: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ECOM_ASK_TIMEOUT", "0.2")
    monkeypatch.setenv("ECOM_ASK_ROW_BUDGET", str(10**15))
    assert main(["--lake-root", str(lake), SLOW]) == 2
    out = capsys.readouterr().out
    assert "Interpretation: refused" in out and "0.2 s time limit (ECOM_ASK_TIMEOUT)" in out
    monkeypatch.delenv("ECOM_ASK_ROW_BUDGET")
    assert main(["--lake-root", str(lake), SLOW]) == 2
    assert "the row budget is 5,000,000 rows" in capsys.readouterr().out


def test_the_worker_ends_when_its_parent_dies_in_the_middle_of_a_query(tmp_path: Path) -> None:
    script = tmp_path / "parent.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import os, sys, threading, time
            sys.path.insert(0, {str(Path(__file__).parent)!r})
            from conftest import build_frames
            from ecom_assets.ask import Asker
            asker = Asker(frames=build_frames(), timeout=600, row_budget=10**15)
            asker.ask("SELECT 1 AS x")
            print(asker.worker.pid, flush=True)
            threading.Thread(target=asker.ask, args=({SLOW!r},), daemon=True).start()
            time.sleep(0.5)
            os._exit(0)
            """
        )
    )
    parent = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=True
    )
    pid = int(parent.stdout.split()[0])
    assert _gone_within(pid, 30), f"worker {pid} outlived its parent"
