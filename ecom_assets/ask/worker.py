"""Validated SQL runs here: in a worker process that is killed at the query's time limit.

Polars cannot be stopped from Python in the middle of a collect: `collect(background=True)`
gives a query with `cancel()`, but a cancelled join goes on using the CPU for seconds. So every
query runs in a separate process, killed at the deadline; the operating system ends its threads
and frees its memory at once, and nothing keeps computing after the refusal.

One `QueryWorker` (the module's `WORKER` unless a caller brings its own) serves every engine of
a Python process, one query at a time. Its process starts with the first engine (it imports
Polars while the engine reads the lake), keeps each engine's tables once they are sent, and
starts again on the next query after a kill. The
process is this file run as a script (`python -P worker.py`: it imports only Polars and the
standard library, so it starts quickly); it exits when its pipe closes or its parent dies.
Messages are pickles with a length prefix over the worker's stdin and stdout (POSIX pipes).
"""

from __future__ import annotations

import atexit
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO

import polars as pl

START_TIMEOUT = 30.0
HELD_TABLE_SETS = 8
_HEADER = struct.Struct(">Q")
_PARENT_POLL = 0.5


class QueryTimeout(Exception):
    """A query that ran past its time limit and was stopped (its worker process killed)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"the query ran longer than the {seconds:g} s time limit")
        self.seconds = seconds


class QueryFailed(Exception):
    """A query Polars could not run (the first line of its error), or a worker that died."""


class _NotDelivered(Exception):
    """The worker died before it received the query; a new worker may run it."""


class QueryWorker:
    """Runs SQL over sets of tables in a worker process, within a wall-clock limit per query."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._held: set[str] = set()
        self._forgotten: list[str] = []
        self._atexit = False

    @property
    def pid(self) -> int | None:
        """The worker process's id while it runs, else None."""
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    def run(
        self, token: str, frames: Mapping[str, pl.DataFrame], sql: str, timeout: float
    ) -> pl.DataFrame:
        """The result of `sql` over `frames` (known to the worker as `token`).

        Raises QueryTimeout when it takes longer than `timeout` seconds (the worker is killed
        and nothing goes on running), QueryFailed when Polars refuses it or the worker dies.
        Starting the worker and sending it the tables do not count against the limit.
        """
        with self._lock:
            for _ in range(3):
                try:
                    reply = self._attempt(token, frames, sql, timeout)
                except _NotDelivered:
                    continue
                if reply[0] != "missing":
                    break
            else:
                raise QueryFailed("the query worker could not be started")
        if reply[0] == "error":
            raise QueryFailed(reply[1])
        frame: pl.DataFrame = reply[1]
        return frame

    def start(self) -> None:
        """Start the worker process now, if it is not running, without waiting for it."""
        with self._lock:
            self._start()

    def forget(self, token: str) -> None:
        """Let the worker drop a set of tables (told with the next request: safe in finalizers)."""
        self._forgotten.append(token)

    def stop(self) -> None:
        """End the worker process, if it runs, even in the middle of a query, and wait for it."""
        process = self._process
        if process is not None and process.poll() is None:
            process.kill()
        with self._lock:
            self._kill()

    def _start(self) -> None:
        if self._process is not None and self._process.poll() is None:
            return
        self._kill()
        self._process = subprocess.Popen(
            [sys.executable, "-P", str(Path(__file__).resolve())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            bufsize=0,
        )
        if not self._atexit:
            atexit.register(self.stop)
            self._atexit = True

    def _attempt(
        self, token: str, frames: Mapping[str, pl.DataFrame], sql: str, timeout: float
    ) -> Any:
        self._start()
        while self._forgotten:
            forgotten = self._forgotten.pop()
            if forgotten in self._held:
                self._held.discard(forgotten)
                self._request(("forget", forgotten), START_TIMEOUT, replies=0)
        if token not in self._held:
            self._request(("load", token, dict(frames)), START_TIMEOUT)
            self._held.add(token)
        reply = self._request(("sql", token, sql), timeout, replies=2)
        if reply[0] == "missing":
            self._held.discard(token)
        return reply

    def _request(self, message: tuple[Any, ...], timeout: float, replies: int = 1) -> Any:
        """The worker's last reply to a message. The worker acknowledges SQL before it runs
        it: one that dies before (killed from outside, say) raises _NotDelivered, and the query
        can go to a new worker."""
        process = self._process
        assert process is not None and process.stdin is not None and process.stdout is not None
        deadline = time.monotonic() + timeout
        delivered = False
        try:
            data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
            _write(process.stdin.fileno(), _HEADER.pack(len(data)) + data, deadline)
            reply: Any = None
            for _ in range(replies):
                (size,) = _HEADER.unpack(_read(process.stdout.fileno(), _HEADER.size, deadline))
                reply = pickle.loads(_read(process.stdout.fileno(), size, deadline))
                if reply[0] != "running":
                    break
                delivered = True
            return reply
        except TimeoutError:
            self._kill()
            if message[0] == "sql":
                raise QueryTimeout(timeout) from None
            raise QueryFailed(f"the query worker did not start within {timeout:g} s") from None
        except (EOFError, OSError) as error:
            code = process.poll()
            self._kill()
            if not delivered:
                raise _NotDelivered from error
            raise QueryFailed(
                f"the query worker stopped unexpectedly (exit code {code})"
            ) from error
        except BaseException:
            self._kill()
            raise

    def _kill(self) -> None:
        process, self._process = self._process, None
        self._held.clear()
        if process is None:
            return
        if process.poll() is None:
            process.kill()
        process.wait()
        for pipe in (process.stdin, process.stdout):
            if pipe is not None:
                pipe.close()


WORKER = QueryWorker()


def _write(fd: int, data: bytes, deadline: float) -> None:
    view = memoryview(data)
    while view:
        _wait(fd, deadline, write=True)
        view = view[os.write(fd, view) :]


def _read(fd: int, size: int, deadline: float) -> bytes:
    chunks, missing = [], size
    while missing:
        _wait(fd, deadline, write=False)
        chunk = os.read(fd, min(missing, 1 << 20))
        if not chunk:
            raise EOFError("the worker's pipe closed")
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)


def _wait(fd: int, deadline: float, write: bool) -> None:
    remaining = deadline - time.monotonic()
    ready = (
        select.select([], [fd], [], max(remaining, 0))
        if write
        else select.select([fd], [], [], max(remaining, 0))
    )
    if not any(ready):
        raise TimeoutError


def _receive(stream: BinaryIO) -> Any:
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(header)
    return pickle.loads(stream.read(size))


def _reply(stream: BinaryIO, message: tuple[Any, ...]) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def _exit_with(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(_PARENT_POLL)
    os._exit(0)


def serve() -> None:
    """The worker's loop: load table sets, forget them, run SQL; until stdin closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    threading.Thread(target=_exit_with, args=(os.getppid(),), daemon=True).start()
    contexts: OrderedDict[str, pl.SQLContext[Any]] = OrderedDict()
    while (message := _receive(sys.stdin.buffer)) is not None:
        kind, token = message[0], message[1]
        if kind == "load":
            contexts[token] = pl.SQLContext(frames=message[2], eager=True)
            while len(contexts) > HELD_TABLE_SETS:
                contexts.popitem(last=False)
            _reply(replies, ("loaded",))
        elif kind == "forget":
            contexts.pop(token, None)
        elif token not in contexts:
            _reply(replies, ("missing",))
        else:
            _reply(replies, ("running",))
            contexts.move_to_end(token)
            try:
                _reply(replies, ("ok", contexts[token].execute(message[2], eager=True)))
            except Exception as error:
                _reply(
                    replies, ("error", str(error).splitlines()[0] if str(error) else repr(error))
                )


if __name__ == "__main__":
    serve()
