"""Serve the provider's requests arriving from a connector, exactly once each.

Requests are identified by the id the provider gave them. A request re-sent
after the connector came back joins the work already under way (or gets the
answer already computed), so nothing is done or answered twice. Handlers run
on worker threads; they wait through `Call.sleep`, which a `$/cancel` from
the provider (or shutdown) interrupts.

Answers go to the connector's stdin from a writer thread of their own
(`_StdinWriter`), never from the thread that reads the connector's stdout or
under the server's lock: the connector writes its stdout and reads its stdin
on one event loop, so when both pipes fill (2,000 cancellations answered at
once did it) a reader that waits on a write would leave both sides waiting
on each other for ever.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from connector.protocol import (
    PROTOCOL_VERSION,
    ChannelClosed,
    Connection,
    ErrorCode,
    Event,
    InvalidParams,
    Message,
    Method,
    ProtocolError,
    Request,
    Response,
    RpcError,
    Status,
    Waiting,
    decode,
    encode,
    version_mismatch,
)

log = logging.getLogger(__name__)
TARMAK_SIDE_VERSION = "0.1.0"
COMPLETED_KEPT = 4096


class OperationFailed(Exception):
    """A handler's failure; the message names what failed (host, port, Vault status)."""


class CallCancelled(Exception):
    pass


@dataclass
class Call:
    id: str
    method: str
    params: dict[str, Any]
    cancelled: threading.Event = field(default_factory=threading.Event)

    def sleep(self, seconds: float) -> None:
        if self.cancelled.wait(seconds):
            raise CallCancelled(self.id)

    @property
    def waiting(self) -> Waiting:
        """Whether, and how long, the caller lets this call wait (the contract's defaults)."""
        return Waiting.from_params(self.params)

    def deadline(self) -> float:
        """When a waiting handler should answer "not ready yet"."""
        return time.monotonic() + self.waiting.wait_seconds


Handler = Callable[[Call], dict[str, Any]]
# The only params a log line shows: they name the resource and are never secret.
NAMING_PARAMS = ("hostname", "vault_cluster_name", "role_name", "node")
# A connector process's channel: (generation of the connector, channel id).
Route = tuple[int, int]


@dataclass
class _Work:
    call: Call
    waiting: set[Route] = field(default_factory=set)


class _StdinWriter:
    """Writes frames to one connector's stdin, in order, from its own thread.
    Frames queued together go out in one write."""

    def __init__(self, stdin: BinaryIO) -> None:
        self._stdin = stdin
        self._frames: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._thread = threading.Thread(
            target=self._write_all, name="tarmak-connector-stdin", daemon=True
        )
        self._thread.start()

    def send(self, frame: bytes) -> None:
        self._frames.put(frame)

    def close(self) -> None:
        """Stop once what is queued is written (the connector may be gone: then drop it)."""
        self._frames.put(None)

    def _write_all(self) -> None:
        while (frame := self._frames.get()) is not None:
            batch = [frame]
            while len(batch) < 1024:
                try:
                    more = self._frames.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._write(batch)
                    return
                batch.append(more)
            if not self._write(batch):
                return

    def _write(self, batch: list[bytes]) -> bool:
        try:
            self._stdin.write(b"".join(batch))
            self._stdin.flush()
            return True
        except (OSError, ValueError):
            return False  # the connector went away; the provider will ask again


class RequestServer:
    def __init__(self, handlers: Mapping[str, Handler], workers: int = 256) -> None:
        self._handlers = dict(handlers)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tarmak-call")
        self._lock = threading.Lock()
        self._inflight: dict[str, _Work] = {}
        self._completed: OrderedDict[str, Response] = OrderedDict()
        self._output: tuple[int, _StdinWriter] | None = None
        self._encoder = Connection()

    # ---- connector lifecycle --------------------------------------------------

    def attach(self, generation: int, stdin: BinaryIO) -> None:
        """A new connector process: answers now go to its stdin."""
        with self._lock:
            if self._output is not None:
                self._output[1].close()
            self._output = (generation, _StdinWriter(stdin))
            for work in self._inflight.values():
                work.waiting = {r for r in work.waiting if r[0] == generation}

    def detach(self, generation: int) -> None:
        with self._lock:
            if self._output and self._output[0] == generation:
                self._output[1].close()
                self._output = None
            for work in self._inflight.values():
                work.waiting = {r for r in work.waiting if r[0] != generation}

    def shutdown(self) -> None:
        with self._lock:
            for work in self._inflight.values():
                work.call.cancelled.set()
            if self._output is not None:
                self._output[1].close()
        self._pool.shutdown(wait=False, cancel_futures=True)

    # ---- events from the connector ----------------------------------------------

    def on_event(self, generation: int, event: Event) -> None:
        """Handle one event. Nothing a message holds raises here: bad input is logged
        in one line and ignored or answered, so the thread reading the connector lives."""
        if isinstance(event, ChannelClosed):
            with self._lock:
                for work in self._inflight.values():
                    work.waiting.discard((generation, event.channel))
            return
        if not isinstance(event, Message):
            return  # ChannelOpened: nothing to do until a request arrives
        route = (generation, event.channel)
        try:
            message = decode(event.payload)
        except ProtocolError as err:
            log.warning("unreadable message on channel %d: %s", event.channel, _one_line(str(err)))
            return
        if not isinstance(message, Request):
            return
        try:
            self._on_request(route, message)
        except Exception as err:  # a bug here must not end the connector's reader
            log.error(
                "could not handle %s on channel %d: %s",
                _one_line(message.method, 80),
                event.channel,
                type(err).__name__,
            )
            if message.id is not None:
                error = RpcError(ErrorCode.INTERNAL_ERROR, f"internal error: {type(err).__name__}")
                self._send(route, Response(message.id, error=error))

    def _on_request(self, route: Route, message: Request) -> None:
        mismatch = version_mismatch(message)
        if mismatch is not None:
            self._send(route, mismatch)
            return
        if message.method == Method.CANCEL:
            self._cancel(str(message.params.get("id", "")))
        elif message.id is None:
            return  # an unknown notification
        elif message.method == Method.PING:
            self._send(route, self._pong(message))
        else:
            self._start_or_join(route, message)

    def _pong(self, request: Request) -> Response:
        assert request.id is not None
        log.info("provider %s connected", request.params.get("provider_version", "?"))
        return Response(
            request.id,
            result={"protocol_version": PROTOCOL_VERSION, "tarmak_version": TARMAK_SIDE_VERSION},
        )

    def _start_or_join(self, route: Route, request: Request) -> None:
        assert request.id is not None
        with self._lock:
            done = self._completed.get(request.id)
            if done is None:
                work = self._inflight.get(request.id)
                if work is not None:
                    work.waiting.add(route)
                    return
                handler = self._handlers.get(request.method)
                if handler is not None:
                    call = Call(request.id, request.method, request.params)
                    self._inflight[request.id] = _Work(call, {route})
        if done is not None:
            self._send(route, done)
        elif handler is None:
            error = RpcError(ErrorCode.METHOD_NOT_FOUND, f"unknown method {request.method!r}")
            self._send(route, Response(request.id, error=error))
        else:
            try:
                self._pool.submit(self._run, handler, call)
            except RuntimeError:  # shut down: nothing will run it, so nothing may wait on it
                with self._lock:
                    self._inflight.pop(request.id, None)
                raise

    def _run(self, handler: Handler, call: Call) -> None:
        started = time.monotonic()
        try:
            result = handler(call)
            response = Response(call.id, result=result)
            outcome = _outcome(result)
        except CallCancelled:
            response = Response(
                call.id, error=RpcError(ErrorCode.FAILED, "cancelled by the provider")
            )
            outcome = "cancelled"
        except OperationFailed as err:
            response = Response(call.id, error=RpcError(ErrorCode.FAILED, str(err)))
            outcome = f"error: {_one_line(str(err))}"
        except InvalidParams as err:  # the caller's mistake: no traceback, the field named
            response = Response(call.id, error=RpcError(ErrorCode.INVALID_PARAMS, str(err)))
            outcome = f"invalid params: {_one_line(str(err))}"
        except Exception as err:
            log.exception("%s failed", call.method)
            response = Response(
                call.id, error=RpcError(ErrorCode.INTERNAL_ERROR, f"{type(err).__name__}: {err}")
            )
            outcome = f"error: {type(err).__name__}"
        log.info(
            "%s %s: %s (%.1fs)",
            call.method,
            _one_line(_subject(call.params)),
            outcome,
            time.monotonic() - started,
        )
        with self._lock:
            work = self._inflight.pop(call.id, None)
            self._completed[call.id] = response
            while len(self._completed) > COMPLETED_KEPT:
                self._completed.popitem(last=False)
            routes = set(work.waiting) if work else set()
        for route in routes:
            self._send(route, response)

    def _cancel(self, request_id: str) -> None:
        with self._lock:
            work = self._inflight.get(request_id)
        if work is not None:
            work.call.cancelled.set()

    def _send(self, route: Route, response: Response) -> None:
        """Queue `response` for its connector (never waits on the pipe)."""
        with self._lock:
            output = self._output
            if output is None or output[0] != route[0]:
                return  # that connector is gone; the provider will ask again
            output[1].send(self._encoder.send(Message(route[1], encode(response))))


def _subject(params: dict[str, Any]) -> str:
    """Which resource a request is about, from NAMING_PARAMS (or the Vault nodes)."""
    names = [str(params[k]) for k in NAMING_PARAMS if isinstance(params.get(k), str)]
    if names:
        return "/".join(names)
    nodes = params.get("internal_fqdns")
    if isinstance(nodes, list) and nodes:
        return "Vault " + ",".join(str(n) for n in nodes[:3]) + (",..." if len(nodes) > 3 else "")
    return "-"


def _outcome(result: dict[str, Any]) -> str:
    """ready / not-ready / gone, from the answer's status (or its ready flag); an
    action's answer says what it did (`outcome`). "not-ready" carries what is still
    awaited, so an operator sees why a wait goes on without asking Terraform."""
    status = result.get("status", result.get("outcome"))
    if not isinstance(status, str):
        status = Status.READY if result.get("ready") else Status.NOT_READY
    detail = result.get("detail")
    if status == Status.NOT_READY and isinstance(detail, str) and detail:
        return f"{status}: {_one_line(detail)}"
    return status


def _one_line(text: str, limit: int = 300) -> str:
    """Params are untrusted: a name with newlines must not forge log lines."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."
