"""Run an output writer in a second process while this one writes the others — or inline, as before.

::

    with output_worker(spawn=True, preload=("detcov.outputs.excel",)) as worker:
        pending = worker.submit(write_workbook, path, sheets, score_columns=...)
        ...                       # the other outputs, meanwhile, on this CPU
        pending.result()          # the writer's return value, or its exception raised here

* ``spawn=False`` (a small scan, one CPU, ``$DETCOV_WORKERS=1``): ``submit`` runs the writer there and then, in
  this process; nothing else changes.
* ``spawn=True``: a fresh interpreter (spawned, never forked: pandas' and pyarrow's thread pools exist by then),
  started at once so that its imports (``preload``: the writer's own module, nothing of the scan engine) overlap
  with this process' work. It is started as ``python -c`` with this process' ``sys.path``, not through
  multiprocessing's "spawn", which would re-run the caller's main script (a notebook's or user's script without
  an ``if __name__ == "__main__"`` guard would scan again). A job is a module-level function (sent by name, so
  the worker imports its module) and its arguments, pickled with the frames' column buffers out of band (sent
  as they are, no copy); outcomes come back through a second pipe.
* An exception in the writer is raised by ``result()`` as itself (same type and message; the worker's traceback
  attached as its cause, shown with ``--debug``), so the CLI reports it as an in-process failure; a worker that
  died (killed, crashed) is a :class:`~detcov.errors.DetcovError`.
* The worker never outlives this process: it runs in its own session (Ctrl-C reaches this process only, which
  stops it), it is terminated when the block is left with a result not collected (an error, Ctrl-C), and it
  exits by itself as soon as its job pipe closes (this process gone, even by SIGKILL).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import pickle
import queue
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Generic, ParamSpec, TypeVar

from detcov.errors import DetcovError

P = ParamSpec("P")
T = TypeVar("T")
PIPE_BYTES = 1 << 20
"""The job pipe's size where the system allows it (Linux, up to /proc/sys/fs/pipe-max-size, 1 MiB by default): the
worker's reader thread waits for the busy writer thread's GIL (5 ms) between two reads, so 20 MB of sheets sent
while it writes the rules sheet took 1.4 s through a 64 KiB pipe."""
SWITCH_SECONDS = 0.0005
"""The worker's GIL switch interval (Python's default: 5 ms): its reader thread, back from each read of the pipe,
waits that long for the busy writer thread to let go; the ~70 MB of a 100,000-rule table then cost the parent
0.4–0.5 s of waiting to send, against 0.3 s at 0.5 ms."""
STOP_SECONDS = 5.0  # a worker given SIGTERM gets this long before SIGKILL
_BOOT = ("import sys; sys.path.insert(0, sys.argv[3]); from detcov.outputs.background import serve; "
         "serve(int(sys.argv[1]), int(sys.argv[2]))")
_ROOT = str(Path(__file__).resolve().parent.parent.parent)  # the folder holding this detcov package


class RemoteTraceback(Exception):
    """The worker's traceback, as the cause of the exception ``result()`` raises (seen with ``--debug``)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class Pending(Generic[T]):
    """A submitted writer's outcome."""

    def __init__(self, take: Callable[[], T]) -> None:
        self._take = take

    def result(self) -> T:
        """Wait for the writer; its return value, or its exception raised here."""
        return self._take()


class Worker:
    """Runs writers in order: inline, or in the spawned process of :func:`output_worker`."""

    def __init__(self, process: subprocess.Popen[bytes] | None = None, jobs: Connection | None = None,
                 outcomes: Connection | None = None) -> None:
        self._process, self._jobs, self._in = process, jobs, outcomes
        self._outcomes: list[tuple[Any, ...]] = []
        self._sent = 0

    @property
    def spawned(self) -> bool:
        return self._process is not None

    @property
    def pid(self) -> int | None:
        """The worker process' id (None inline)."""
        return self._process.pid if self._process is not None else None

    @property
    def busy(self) -> bool:
        """A job sent whose outcome is not in yet."""
        return len(self._outcomes) < self._sent

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Pending[T]:
        if self._jobs is None:
            value = fn(*args, **kwargs)
            return Pending(lambda: value)
        index = self._sent
        self._send((fn, args, kwargs))
        self._sent += 1
        return Pending(lambda: self._outcome(index))

    def _send(self, message: object) -> None:
        """``message`` pickled with its large buffers (the frames' columns) out of band: they go through the
        pipe as they are, never copied into a pickle stream (which would cost this process 3 times their size)."""
        assert self._jobs is not None
        buffers: list[pickle.PickleBuffer] = []
        head = pickle.dumps(message, protocol=5, buffer_callback=buffers.append)
        views = [b.raw() for b in buffers]
        try:
            self._jobs.send([len(head), *(v.nbytes for v in views)])
            for view in (memoryview(head), *views):
                self._jobs.send_bytes(view)
        except (BrokenPipeError, ConnectionResetError):
            raise self._died() from None

    def _outcome(self, index: int) -> Any:
        while len(self._outcomes) <= index:
            self._outcomes.append(self._receive())
        kind, value, *detail = self._outcomes[index]
        if kind == "ok":
            return value
        if detail:
            value.__cause__ = RemoteTraceback(detail[0])
        raise value

    def _receive(self) -> tuple[Any, ...]:
        assert self._in is not None
        try:
            outcome: tuple[Any, ...] = self._in.recv()
        except (EOFError, OSError):
            raise self._died() from None
        return outcome

    def _stop(self) -> None:
        """Close the job pipe (an idle worker exits at once); a busy one (its result no longer wanted) is
        terminated, and killed if it does not stop."""
        assert self._process is not None
        busy = self.busy
        for conn in (self._jobs, self._in):
            if conn is not None:
                conn.close()
        if busy:
            self._process.terminate()
        try:
            self._process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    def _died(self) -> DetcovError:
        assert self._process is not None
        try:
            code: int | None = self._process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            code = None
        return DetcovError(f"the background output writer stopped unexpectedly (exit code {code}); the previous "
                           "outputs are kept", hint="rerun; if it happens again, rerun with DETCOV_WORKERS=1 (no "
                                                    "extra process) and report it")


@contextmanager
def output_worker(spawn: bool, preload: Sequence[str] = ()) -> Iterator[Worker]:
    """A :class:`Worker`: inline (``spawn=False``; also where no worker can be started: not POSIX, no
    ``sys.executable``, no process or pipe left) or a spawned process importing ``preload`` as it starts."""
    worker = _spawn(preload) if spawn and os.name == "posix" and sys.executable else None
    if worker is None:
        yield Worker()
        return
    try:
        worker._send((list(sys.path), tuple(preload)))
        yield worker
    finally:
        worker._stop()


def _spawn(preload: Sequence[str]) -> Worker | None:
    flags: Callable[[], list[str]] = getattr(subprocess, "_args_from_interpreter_flags", list)  # -X importtime …
    pipes: list[tuple[int, int]] = []
    try:
        pipes += [os.pipe(), os.pipe()]
    except OSError:
        for fd in (fd for pipe in pipes for fd in pipe):
            os.close(fd)
        return None
    (jobs_r, jobs_w), (out_r, out_w) = pipes
    with contextlib.suppress(OSError, AttributeError):  # Linux: a larger pipe, see PIPE_BYTES
        import fcntl  # POSIX only, as the worker is

        fcntl.fcntl(jobs_w, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    try:
        process = subprocess.Popen([sys.executable, *flags(), "-c", _BOOT, str(jobs_r), str(out_w), _ROOT],
                                   pass_fds=(jobs_r, out_w), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   start_new_session=True)
    except OSError:
        for fd in (jobs_w, out_r):
            os.close(fd)
        return None
    finally:
        for fd in (jobs_r, out_w):  # the worker's ends: open there only, so its death is an EOF here
            os.close(fd)
    return Worker(process, Connection(jobs_w, readable=False), Connection(out_r, writable=False))


def serve(jobs_fd: int, outcomes_fd: int) -> None:
    """The worker's main loop: this thread reads jobs at once (the parent never waits to send one) and exits the
    process when the pipe closes, even in the middle of a job (the parent is gone or gave up); a second thread
    imports ``preload``, then unpickles and runs each job and sends back its outcome (a job that cannot be
    unpickled, e.g. a function defined in ``__main__``, fails as itself)."""
    jobs, outcomes = Connection(jobs_fd, writable=False), Connection(outcomes_fd, readable=False)
    todo: queue.SimpleQueue[Any] = queue.SimpleQueue()
    sys.setswitchinterval(SWITCH_SECONDS)
    try:
        head, buffers = _receive(jobs)
        path, preload = pickle.loads(head, buffers=buffers)
        sys.path[:] = path
        threading.Thread(target=_run, args=(preload, todo, outcomes), name="detcov-output-writer",
                         daemon=True).start()
        while True:
            todo.put(_receive(jobs))
    except EOFError:
        pass
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # at once, without the interpreter's slow teardown (and never waiting for a job no one wants)


def _receive(jobs: Connection) -> tuple[bytearray, list[bytearray]]:
    """One message of :meth:`Worker._send`: the pickle stream and its buffers (writable, as the frames had them)."""
    sizes: list[int] = jobs.recv()
    parts = [bytearray(size) for size in sizes]
    for part in parts:
        jobs.recv_bytes_into(part)
    return parts[0], parts[1:]


def _run(preload: Sequence[str], todo: queue.SimpleQueue[Any], outcomes: Connection) -> None:
    for name in preload:
        importlib.import_module(name)
    while True:
        head, buffers = todo.get()
        try:
            fn, args, kwargs = pickle.loads(head, buffers=buffers)
            outcome: tuple[Any, ...] = ("ok", fn(*args, **kwargs))
        except BaseException as exc:  # every failure goes back to the parent, as itself
            outcome = ("error", _sendable(exc), traceback.format_exc())
        outcomes.send(outcome)


def _sendable(exc: BaseException) -> BaseException:
    """``exc`` if it survives pickling as itself, else a RuntimeError naming it."""
    try:
        back = pickle.loads(pickle.dumps(exc))
    except Exception:  # an exception class pickle cannot rebuild
        back = None
    if type(back) is type(exc) and str(back) == str(exc):
        return exc
    return RuntimeError(f"{type(exc).__name__}: {exc}")
