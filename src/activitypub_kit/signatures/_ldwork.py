"""Bounded JSON-LD work for Linked Data Signatures: pre-check, work budget, worker processes.

Checking an ``RsaSignature2017`` means canonicalising the document with URDNA2015, whose
n-degree hashing is factorial in the number of blank nodes that look alike: a 1 KB
document of seven blank nodes that reference each other costs seconds, eight cost
minutes; two identical id-less objects holding seven identical tags do the same without
any explicit label.  pyld's node map is also quadratic in the length of one property's
value list (a thousand ``cc`` IRIs cost seconds).  Three layers bound that work:

1. :func:`check_ld_shape`, a linear walk of the JSON before any JSON-LD processing, refuses
   explicit blank node labels (``"_:b0"``), more than :data:`MAX_LD_BLANK_NODES` blank
   nodes, more than :data:`MAX_LD_JSON_VALUES` JSON values and nesting deeper than
   :data:`MAX_LD_DEPTH`.
2. The canonicalisation itself runs with a work budget (:data:`MAX_LD_HASH_WORK`): before
   each n-degree hash, the number of permutations it may try is charged, and the document
   is refused as soon as the budget is spent, before the permutations are tried.  This
   bounds in-process callers (:func:`~activitypub_kit.signatures._ldsig.verify_ld_signature`)
   too.
3. :class:`LdWorkerPool` runs the canonicalisation and compaction in child processes with
   a hard time limit (:data:`DEFAULT_LD_TIME_LIMIT`): a child still busy at the limit is
   killed, and replaced on next use.  A thread could not be stopped, and pyld would hold
   the GIL, so the event loop would stall; a child process keeps the event loop free and
   can be killed.

Every refusal raises :class:`~activitypub_kit.errors.LdWorkLimitError` (a
:class:`~activitypub_kit.errors.ProofError`, HTTP 401).

The children are plain ``python -c`` processes (not :mod:`multiprocessing`, whose ``spawn``
start method re-imports the application's ``__main__`` module in every child).  They are
started on first need (the time limit does not count the start-up, about a second), warm
pyld's context cache once, then serve requests one at a time over their standard input and
output, framed as length-prefixed JSON.  The pool has one thread per child; each request
takes a free child (a running one first), so concurrent requests use different children
and a hostile document holds up at most one child, for at most the time limit; a killed
child is restarted when next needed.  Children exit when their pool is closed
(:meth:`LdWorkerPool.close`, :func:`close_ld_workers`) or garbage collected, when the
interpreter exits, and by themselves when the parent dies (their standard input closes).
A process forked from the parent starts its own children.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import signal
import struct
import subprocess
import sys
import threading
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from pyld import jsonld

from activitypub_kit.errors import LdWorkLimitError, ProofError
from activitypub_kit.models._jsonld import AS_CONTEXT, SECURITY_V1_CONTEXT, document_loader

IDENTITY_V1_CONTEXT = "https://w3id.org/identity/v1"
"""The context Mastodon signs the ``RsaSignature2017`` options under."""

TRUSTED_CONTEXT: list[Any] = [AS_CONTEXT, SECURITY_V1_CONTEXT]
"""The context a verified document is compacted against (AS2 + security v1)."""

MAX_LD_DEPTH = 64
"""Deepest nesting of JSON objects and arrays accepted (the inbox already stops at 48)."""

MAX_LD_BLANK_NODES = 128
"""Most JSON objects without an ``id``/``@id`` (blank nodes) in a document, its signature
options included.

Real LD-signed documents have few: the largest in our corpus (a Mastodon ``Create`` with
attachments, tags and emoji) has 9, a PeerTube ``Video`` (unsigned) 56.  Language maps such
as ``contentMap`` are counted too, which only errs on the safe side.
"""

MAX_LD_JSON_VALUES = 4096
"""Most JSON values (objects, arrays, strings, numbers...; inline contexts included) in a
document.

Real documents have a few hundred at most (a PeerTube ``Create`` has 431; a Mastodon note
with a hundred mentions about 500).  This also bounds pyld's node map, which is quadratic in
the length of a property's value list; the time limit bounds what remains.
"""

MAX_LD_HASH_WORK = 1000
"""Work budget of one URDNA2015 canonicalisation, in n-degree hash permutations.

Every Hash N-Degree Quads call is charged ``1 + ∏ k!`` over the groups of ``k`` related
blank nodes that hash alike (the permutations it may try), before it tries any.  Real
documents use 0 to 9; the seven-node attack would need about 10⁸.  A budget of 1000 is
spent within about 0.15 s of CPU.
"""

DEFAULT_LD_TIME_LIMIT = 2.0
"""Seconds a worker process may spend on one document (canonicalisation + compaction)."""

DEFAULT_LD_WORKERS = 2
"""Worker processes of the default pool (each one is started on first need)."""

LD_WORKER_START_TIMEOUT = 60.0
"""Seconds a worker process may take to start (import pyld, warm its context cache)."""

_HEADER = struct.Struct(">I")
_SRC_ROOT = Path(__file__).resolve().parents[2]


# --- the structural pre-check ------------------------------------------------------------


def _label_error(label: str) -> LdWorkLimitError:
    shown = label if len(label) <= 40 else label[:40] + "..."
    return LdWorkLimitError(
        f"JSON-LD document uses the explicit blank node label {shown!r}: refused, "
        "canonicalising labelled blank nodes can take unbounded time"
    )


def _names_a_node(value: dict[Any, Any]) -> bool:
    return isinstance(value.get("id"), str) or isinstance(value.get("@id"), str)


def check_ld_shape(*documents: Any) -> None:
    """Refuse a document too costly to canonicalise, in linear time, before any JSON-LD work.

    The limits are counted over all ``documents`` together (pass the document and the
    signature options when they are separate): no string value or key may start with
    ``_:`` (an explicit blank node label, or a reference to one), at most
    :data:`MAX_LD_BLANK_NODES` objects without ``id``/``@id`` outside ``@context`` (value
    objects excepted), at most :data:`MAX_LD_JSON_VALUES` JSON values, nesting at most
    :data:`MAX_LD_DEPTH` deep.

    A literal text starting with ``_:`` is refused as well: which strings JSON-LD reads as
    references depends on the contexts, and this check runs without them.

    :raises LdWorkLimitError: when a limit is broken.
    """
    values = len(documents)
    blank_nodes = 0
    stack: list[tuple[Any, int, bool]] = [(document, 0, False) for document in documents]
    while stack:
        value, depth, in_context = stack.pop()
        if isinstance(value, str):
            if value.startswith("_:"):
                raise _label_error(value)
            continue
        if not isinstance(value, dict | list):
            continue
        if depth >= MAX_LD_DEPTH and value:
            raise LdWorkLimitError(f"JSON-LD document is nested deeper than {MAX_LD_DEPTH} levels")
        values += len(value)
        if values > MAX_LD_JSON_VALUES:
            raise LdWorkLimitError(
                f"JSON-LD document has more than {MAX_LD_JSON_VALUES} JSON values: refused, "
                "too costly to canonicalise"
            )
        if isinstance(value, list):
            stack.extend((item, depth + 1, in_context) for item in value)
            continue
        if not in_context and not _names_a_node(value) and "@value" not in value:
            blank_nodes += 1
            if blank_nodes > MAX_LD_BLANK_NODES:
                raise LdWorkLimitError(
                    f"JSON-LD document has more than {MAX_LD_BLANK_NODES} objects without "
                    "an id (blank nodes): refused, too costly to canonicalise"
                )
        for key, item in value.items():
            if isinstance(key, str) and key.startswith("_:"):
                raise _label_error(key)
            stack.append((item, depth + 1, in_context or key == "@context"))


# --- budgeted canonicalisation and compaction --------------------------------------------


class _BudgetedUrdna2015(jsonld.URDNA2015):  # type: ignore[misc]
    """pyld's URDNA2015, charging each Hash N-Degree Quads call against a work budget."""

    def __init__(self, budget: int) -> None:
        super().__init__()
        self.budget_left = budget

    def create_hash_to_related(self, id_: str, issuer: Any) -> dict[str, list[str]]:
        # Called first thing by hash_n_degree_quads: charge the permutations it is about to
        # try (one per ordering of each group of alike related blank nodes), before it does.
        related: dict[str, list[str]] = super().create_hash_to_related(id_, issuer)
        cost = 1
        for group in related.values():
            for size in range(2, len(group) + 1):
                cost *= size
                if cost >= self.budget_left:
                    break
        self.budget_left -= cost + 1
        if self.budget_left < 0:
            raise LdWorkLimitError(
                f"JSON-LD document needs more than {MAX_LD_HASH_WORK} blank node hash "
                "permutations to canonicalise (many blank nodes alike): refused"
            )
        return related


def _options() -> dict[str, Any]:
    return {"documentLoader": document_loader}


def _cause(exc: BaseException) -> str:
    while exc.__cause__ is not None or getattr(exc, "cause", None) is not None:
        exc = exc.__cause__ or exc.cause  # type: ignore[attr-defined]
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def canonical_nquads(document: dict[str, Any], *, budget: int = MAX_LD_HASH_WORK) -> str:
    """The URDNA2015 canonical N-Quads of ``document``, within a work ``budget``.

    Contexts come from the bundled offline loader.  No structural pre-check is made here
    (see :func:`check_ld_shape`).

    :raises LdWorkLimitError: when the work budget is spent.
    :raises ProofError: when the document is not valid JSON-LD or a context is not bundled.
    """
    try:
        dataset = jsonld.to_rdf(document, {**_options(), "produceGeneralizedRdf": False})
        nquads: str = _BudgetedUrdna2015(budget).main(dataset, {"format": "application/n-quads"})
    except jsonld.JsonLdError as exc:
        raise ProofError(f"JSON-LD canonicalisation failed: {_cause(exc)}") from None
    except RecursionError:
        raise ProofError("JSON-LD document is too deeply nested to canonicalise") from None
    return nquads


def canonical_hash(document: dict[str, Any]) -> str:
    """SHA-256 (hex) of the canonical N-Quads of ``document`` (see :func:`canonical_nquads`)."""
    return hashlib.sha256(canonical_nquads(document).encode("utf-8")).hexdigest()


def to_be_signed(document: dict[str, Any], options: dict[str, Any]) -> bytes:
    """The bytes an ``RsaSignature2017`` signs: hash of the options, hash of the document.

    As Mastodon does, every signature option except ``type``, ``id`` and ``signatureValue``
    is signed (under the identity v1 context), and the document without its ``signature``.
    """
    signed = {k: v for k, v in options.items() if k not in ("type", "id", "signatureValue")}
    signed["@context"] = IDENTITY_V1_CONTEXT
    unsigned = {k: v for k, v in document.items() if k != "signature"}
    return (canonical_hash(signed) + canonical_hash(unsigned)).encode("ascii")


def compact_document(document: dict[str, Any], context: list[Any] | None = None) -> dict[str, Any]:
    """Compact ``document`` against ``context`` (default :data:`TRUSTED_CONTEXT`), offline.

    No structural pre-check is made here (see :func:`check_ld_shape`).

    :raises ProofError: when a context is not bundled or the document is not JSON-LD.
    """
    ctx = TRUSTED_CONTEXT if context is None else context
    try:
        result: dict[str, Any] = jsonld.compact(document, {"@context": ctx}, _options())
    except jsonld.JsonLdError as exc:
        raise ProofError(f"JSON-LD compaction failed: {_cause(exc)}") from None
    except RecursionError:
        raise ProofError("JSON-LD document is too deeply nested to compact") from None
    result["@context"] = ctx if len(ctx) != 1 else ctx[0]
    return result


def _verify_material(request: dict[str, Any]) -> dict[str, Any]:
    document, options, context = request["document"], request["options"], request["context"]
    check_ld_shape(document, options)
    data = to_be_signed(document, options)
    unsigned = {k: v for k, v in document.items() if k != "signature"}
    return {"data": data.decode("ascii"), "compacted": compact_document(unsigned, context)}


_OPERATIONS = {"verify": _verify_material}


# --- the worker process ------------------------------------------------------------------


def _write_frame(stream: IO[bytes], payload: bytes) -> None:
    stream.write(_HEADER.pack(len(payload)) + payload)
    stream.flush()


def _read_frame(stream: IO[bytes]) -> Any:
    """The next JSON frame of ``stream``; ``None`` at end of stream."""
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(header)
    body = stream.read(size)
    if len(body) < size:
        return None
    return json.loads(body)


def _encode(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode("ascii")


def _answer(request: Any) -> dict[str, Any]:
    try:
        operation = _OPERATIONS[request["op"]]
        return {"ok": operation(request)}
    except LdWorkLimitError as exc:
        return {"error": "limit", "message": str(exc)}
    except ProofError as exc:
        return {"error": "proof", "message": str(exc)}
    except RecursionError:
        return {"error": "proof", "message": "JSON-LD document is too deeply nested"}
    except Exception as exc:  # pyld raises more than JsonLdError on odd input
        return {"error": "proof", "message": f"JSON-LD processing failed: {type(exc).__name__}"}


def _warm_up() -> None:
    # Load and process the bundled contexts once, so that no request pays for it.
    compact_document({"@context": TRUSTED_CONTEXT, "type": "Note", "content": "warm-up"})
    canonical_hash(
        {"@context": IDENTITY_V1_CONTEXT, "creator": "urn:x:k", "created": "2000-01-01T00:00:00Z"}
    )


def _worker_main() -> None:
    """Body of a worker process: answer framed requests on stdin until it closes."""
    with contextlib.suppress(ValueError, AttributeError):
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when we stop
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # a stray print() must not corrupt the replies
    sys.stdout = sys.stderr
    requests = sys.stdin.buffer
    _warm_up()
    try:
        _write_frame(replies, _encode({"ready": True}))
        while (request := _read_frame(requests)) is not None:
            _write_frame(replies, _encode(_answer(request)))
    except BrokenPipeError:  # the parent is gone
        pass


def _worker_command() -> list[str]:
    if not sys.executable:
        raise RuntimeError("cannot start a JSON-LD worker process: sys.executable is unknown")
    return [
        sys.executable,
        "-c",
        "from activitypub_kit.signatures._ldwork import _worker_main; _worker_main()",
    ]


def _worker_env() -> dict[str, str]:
    env = dict(os.environ)
    # The child must import the same activitypub_kit, even when it runs from a source tree.
    paths = [str(_SRC_ROOT), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


def _kill(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(OSError):
        process.kill()


def _discard(process: subprocess.Popen[bytes]) -> None:
    for stream in (process.stdin, process.stdout):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()
    _kill(process)
    process.wait()


class _Worker:
    """One worker process, started on demand; used by one thread at a time."""

    def __init__(self, start_timeout: float) -> None:
        self.start_timeout = start_timeout
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._busy = False
        self.jobs = 0
        self.timeouts = 0
        self.starts = 0

    @property
    def running(self) -> bool:
        process = self._process
        return process is not None and process.poll() is None

    def call(self, payload: bytes, time_limit: float) -> Any:
        with self._lock:
            self._busy = True
        try:
            process = self._started()
            self.jobs += 1
            reply, expired = self._exchange(process, payload, time_limit)
        finally:
            with self._lock:
                self._busy = False
        if expired or reply is None:
            self._forget(process)
        if reply is not None:
            return reply
        if expired:
            self.timeouts += 1
            raise LdWorkLimitError(
                f"JSON-LD canonicalisation took longer than {time_limit:g} s: refused"
            )
        raise LdWorkLimitError("the JSON-LD worker process died while canonicalising: refused")

    def _started(self) -> subprocess.Popen[bytes]:
        process = self._process
        if process is not None and process.poll() is None:
            return process
        if process is not None:
            self._forget(process)
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and fixed code
            _worker_command(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=_worker_env(),
            close_fds=True,
        )
        self.starts += 1
        with self._lock:
            self._process = process  # from now on, stop() can kill it
        ready, _ = self._exchange(process, None, self.start_timeout)
        if ready != {"ready": True}:
            self._forget(process)
            raise RuntimeError(
                "the JSON-LD worker process did not start (its standard error tells why)"
            )
        return process

    @staticmethod
    def _exchange(
        process: subprocess.Popen[bytes], payload: bytes | None, time_limit: float
    ) -> tuple[Any, bool]:
        """Send ``payload`` (if any) and read one reply, killing the process at the limit."""
        assert process.stdin is not None
        assert process.stdout is not None
        expired = threading.Event()

        def expire() -> None:
            expired.set()
            _kill(process)

        watchdog = threading.Timer(time_limit, expire)
        watchdog.daemon = True
        watchdog.start()
        try:
            if payload is not None:
                _write_frame(process.stdin, payload)
            reply = _read_frame(process.stdout)
        except (OSError, ValueError):  # broken pipe, closed file, truncated JSON
            reply = None
        finally:
            watchdog.cancel()
            watchdog.join()
        return reply, expired.is_set()

    def _forget(self, process: subprocess.Popen[bytes]) -> None:
        with self._lock:
            if self._process is process:
                self._process = None
        _discard(process)

    def stop(self) -> None:
        """Stop the process: now when idle, else kill it and let its thread clean up."""
        with self._lock:
            process = self._process
            if process is None:
                return
            if self._busy:
                _kill(process)
                return
            self._process = None
        _discard(process)


def _stop_all(workers: list[_Worker], pid: int) -> None:
    if os.getpid() != pid:  # a forked copy of the pool: the processes are the parent's
        return
    for worker in workers:
        worker.stop()


@dataclass(frozen=True, slots=True)
class LdWorkerStats:
    """Counters of an :class:`LdWorkerPool` since it was created."""

    #: Requests sent to a worker process.
    jobs: int
    #: Requests refused because they ran out of time (their process was killed).
    timeouts: int
    #: Worker processes started (the first ones, and each replacement).
    starts: int
    #: Worker processes running now.
    running: int


class LdWorkerPool:
    """Worker processes that canonicalise and compact JSON-LD under a hard time limit.

    ``workers`` processes at most, each started on first need and replaced after it is
    killed; a request waits (first come, first served) for a free one.  ``time_limit`` is
    the default limit per request, in seconds.  :meth:`close` stops the processes; the pool
    can be used again afterwards (it starts new ones).
    """

    def __init__(
        self,
        workers: int = DEFAULT_LD_WORKERS,
        *,
        time_limit: float = DEFAULT_LD_TIME_LIMIT,
        start_timeout: float = LD_WORKER_START_TIMEOUT,
    ) -> None:
        if workers < 1:
            raise ValueError("an LdWorkerPool needs at least one worker")
        if time_limit <= 0:
            raise ValueError("the time limit must be positive")
        self.workers = workers
        self.time_limit = time_limit
        self._start_timeout = start_timeout
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._inherited: list[_Worker] = []
        self._fresh_workers()

    def _fresh_workers(self) -> None:
        self._pid = os.getpid()
        self._workers = [_Worker(self._start_timeout) for _ in range(self.workers)]
        self._idle = list(self._workers)
        self._freed = threading.Condition()
        weakref.finalize(self, _stop_all, list(self._workers), self._pid)

    def _check_fork(self) -> None:
        # After os.fork() the child has the parent's workers (their processes serve the
        # parent) but none of its threads: start afresh, leaving those to the parent.
        if self._pid != os.getpid():
            self._inherited += self._workers  # kept, so that nothing reaps or warns
            self._lock = threading.Lock()
            self._executor = None
            self._fresh_workers()

    @property
    def stats(self) -> LdWorkerStats:
        """The pool's counters."""
        return LdWorkerStats(
            jobs=sum(w.jobs for w in self._workers),
            timeouts=sum(w.timeouts for w in self._workers),
            starts=sum(w.starts for w in self._workers),
            running=sum(w.running for w in self._workers),
        )

    def _take(self) -> _Worker:
        # A free worker whose process runs, else a free one to start (first come, first
        # served: Condition wakes waiters in order).
        with self._freed:
            while not self._idle:
                self._freed.wait()
            worker = next((w for w in self._idle if w.running), self._idle[0])
            self._idle.remove(worker)
            return worker

    def run(self, request: dict[str, Any], time_limit: float | None = None) -> Any:
        """Run ``request`` in a worker process, blocking until done (for any thread).

        :raises LdWorkLimitError: when the worker runs out of time or budget, or dies.
        :raises ProofError: when the document is not JSON(-LD).
        """
        self._check_fork()
        limit = self.time_limit if time_limit is None else time_limit
        try:
            payload = _encode(request)
        except (TypeError, ValueError) as exc:
            raise ProofError(f"document is not JSON-serialisable: {exc}") from None
        worker = self._take()
        try:
            reply = worker.call(payload, limit)
        finally:
            with self._freed:
                self._idle.append(worker)
                self._freed.notify()
        if isinstance(reply, dict) and "ok" in reply:
            return reply["ok"]
        message = str(reply.get("message")) if isinstance(reply, dict) else "bad reply"
        if isinstance(reply, dict) and reply.get("error") == "limit":
            raise LdWorkLimitError(message)
        raise ProofError(message)

    async def run_async(self, request: dict[str, Any], time_limit: float | None = None) -> Any:
        """:meth:`run` in the pool's own threads, without blocking the event loop.

        Cancelling the caller drops a request that has not started; one that has started
        runs to its end or its time limit, then frees its worker.
        """
        self._check_fork()
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="ld-work")
            future = self._executor.submit(self.run, request, time_limit)
        return await asyncio.wrap_future(future)

    def close(self) -> None:
        """Stop the worker processes and threads; requests still waiting are cancelled."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
        _stop_all(self._workers, self._pid)


_default_pool: LdWorkerPool | None = None
_default_lock = threading.Lock()


def default_ld_worker_pool() -> LdWorkerPool:
    """The pool that :func:`~activitypub_kit.signatures._ldsig.verify_ld_signature_async` uses.

    It is created on first use; :func:`configure_ld_workers` replaces it.
    """
    global _default_pool
    with _default_lock:
        if _default_pool is None:
            _default_pool = LdWorkerPool()
        return _default_pool


def configure_ld_workers(
    workers: int = DEFAULT_LD_WORKERS, *, time_limit: float = DEFAULT_LD_TIME_LIMIT
) -> LdWorkerPool:
    """Replace the default pool by one with ``workers`` processes and ``time_limit``."""
    global _default_pool
    pool = LdWorkerPool(workers, time_limit=time_limit)
    with _default_lock:
        old, _default_pool = _default_pool, pool
    if old is not None:
        old.close()
    return pool


def close_ld_workers() -> None:
    """Stop the default pool's processes (they restart on next use).  Also run at exit."""
    with _default_lock:
        pool = _default_pool
    if pool is not None:
        pool.close()


__all__ = [
    "MAX_LD_DEPTH",
    "MAX_LD_BLANK_NODES",
    "MAX_LD_JSON_VALUES",
    "MAX_LD_HASH_WORK",
    "DEFAULT_LD_TIME_LIMIT",
    "DEFAULT_LD_WORKERS",
    "LD_WORKER_START_TIMEOUT",
    "IDENTITY_V1_CONTEXT",
    "TRUSTED_CONTEXT",
    "check_ld_shape",
    "canonical_nquads",
    "canonical_hash",
    "to_be_signed",
    "compact_document",
    "LdWorkerStats",
    "LdWorkerPool",
    "default_ld_worker_pool",
    "configure_ld_workers",
    "close_ld_workers",
]
