"""tarmak-connector's relay: provider connections on a Unix socket <-> one stdio stream.

Each accepted provider connection becomes a channel on stdout (OPEN, its
messages, CLOSE); messages from stdin are routed back to their channel's
connection. The relay never looks inside messages. When stdin ends (Tarmak
went away) it closes everything and exits; providers keep their requests
and re-send them to the next connector.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import signal
import socket
import stat
import sys
from typing import BinaryIO

from connector.protocol import (
    NEED_DATA,
    ChannelClosed,
    ChannelOpened,
    Connection,
    Message,
    ProtocolError,
)
from connector.unix import SocketSecurityError, check_peer, listen_private, remove_private

log = logging.getLogger("tarmak-connector")
READ_SIZE = 256 * 1024


class Relay:
    def __init__(self, stdout: asyncio.StreamWriter | _PipeWriter) -> None:
        self._stdout = stdout
        self._stdio = Connection()
        self._channels: dict[int, asyncio.StreamWriter] = {}
        self._ids = itertools.count(1)

    async def handle_provider(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            check_peer(writer.get_extra_info("socket"), "a provider connection")
        except SocketSecurityError as err:
            log.warning("%s", err)
            writer.close()
            return
        channel = next(self._ids)
        self._channels[channel] = writer
        self._emit(ChannelOpened(channel))
        log.info("provider connected (channel %d)", channel)
        incoming = Connection()
        try:
            while data := await reader.read(READ_SIZE):
                incoming.receive_data(data)
                while (event := incoming.next_event()) is not NEED_DATA:
                    if isinstance(event, Message):
                        self._emit(Message(channel, event.payload))
        except (ProtocolError, ConnectionError) as err:
            log.warning("provider connection %d: %s", channel, err)
        finally:
            if self._channels.pop(channel, None) is not None:
                self._emit(ChannelClosed(channel))
            writer.close()
            log.info("provider disconnected (channel %d)", channel)

    def _emit(self, event: ChannelOpened | Message | ChannelClosed) -> None:
        self._stdout.write(self._stdio.send(event))

    def from_tarmak(self, data: bytes) -> None:
        """Route bytes read from stdin to provider connections."""
        self._stdio.receive_data(data)
        while (event := self._stdio.next_event()) is not NEED_DATA:
            writer = self._channels.get(event.channel)
            if writer is None:
                continue  # that provider already left; it will re-send
            if isinstance(event, Message):
                writer.write(self._stdio.send(Message(0, event.payload)))
            elif isinstance(event, ChannelClosed):
                self._channels.pop(event.channel, None)
                writer.close()

    def close_all(self) -> None:
        for writer in self._channels.values():
            writer.close()
        self._channels.clear()


class _PipeWriter:
    """Blocking writes to stdout from the event loop (small frames, a pipe)."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream

    def write(self, data: bytes) -> None:
        self._stream.write(data)
        self._stream.flush()


# Signals that end the relay cleanly: the socket and its directory are removed.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
NOT_A_PIPE = 2  # exit code: started by hand, not by Tarmak


def stdin_problem(stdin: BinaryIO) -> str | None:
    """Why `stdin` cannot carry Tarmak's frames (None when it can).

    Tarmak starts us with `docker exec -i`, so stdin is a pipe or a socket.
    A terminal, /dev/null or a file means a person started us by hand, and
    the event loop cannot even watch a file (epoll refuses it with EPERM)."""
    try:
        mode = os.fstat(stdin.fileno()).st_mode
    except (OSError, ValueError):
        return "stdin is closed"
    if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
        return None
    if os.isatty(stdin.fileno()):
        return "stdin is a terminal"
    return "stdin is a file or device, not a pipe"


async def run(
    socket_path: str, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None
) -> int:
    """Relay until stdin ends (0), Tarmak sends garbage (1), or a signal (128 + its number)."""
    stdin = stdin or sys.stdin.buffer
    if problem := stdin_problem(stdin):
        log.error(
            "%s. tarmak-connector relays between Tarmak and the Terraform provider; Tarmak "
            "starts it with `docker exec -i CONTAINER tarmak-connector`, which gives it a "
            "pipe. There is nothing to relay, so it exits.",
            problem,
        )
        return NOT_A_PIPE
    relay = Relay(_PipeWriter(stdout or sys.stdout.buffer))
    loop = asyncio.get_running_loop()
    stopped_by: list[int] = []
    stop = asyncio.Event()

    def on_signal(signum: int) -> None:
        stopped_by.append(signum)
        stop.set()

    # Handlers first: a signal from now on ends us through the cleanup below.
    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        try:
            listener = listen_private(socket_path)
        except (SocketSecurityError, OSError) as err:
            log.error("cannot listen on %s: %s", socket_path, err)
            return 1
        try:
            return await _serve(socket_path, listener, relay, stdin, stop, stopped_by)
        finally:
            # Cleaned up while our handlers still catch a second signal (the controller's
            # SIGTERM often follows a terminal's Ctrl-C): a default one would kill us midway.
            listener.close()
            remove_private(socket_path)
    finally:
        for signum in STOP_SIGNALS:
            with contextlib.suppress(ValueError, RuntimeError):
                loop.remove_signal_handler(signum)


async def _serve(
    socket_path: str,
    listener: socket.socket,
    relay: Relay,
    stdin: BinaryIO,
    stop: asyncio.Event,
    stopped_by: list[int],
) -> int:
    loop = asyncio.get_running_loop()
    server = await asyncio.start_unix_server(relay.handle_provider, sock=listener)
    log.info("listening on %s (pid %d)", socket_path, os.getpid())
    reader = asyncio.StreamReader(limit=READ_SIZE)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), stdin)
    pump = asyncio.create_task(_pump_stdin(reader, relay))
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({pump, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
        pump.cancel()
        server.close()
        relay.close_all()
    if stopped_by:
        name = signal.Signals(stopped_by[0]).name
        log.warning("stopped by %s; removed %s", name, socket_path)
        return 128 + stopped_by[0]
    return pump.result()


async def _pump_stdin(reader: asyncio.StreamReader, relay: Relay) -> int:
    while True:
        data = await reader.read(READ_SIZE)
        if not data:
            log.info("stdin closed: Tarmak went away, exiting")
            return 0
        try:
            relay.from_tarmak(data)
        except ProtocolError as err:
            log.error("bad data from Tarmak: %s", err)
            return 1
