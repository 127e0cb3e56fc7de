"""An SMTP server in this process (aiosmtpd) that keeps what it receives, for delivery tests,
and can misbehave as real servers do: refuse, hold a message, stall, or answer late."""
import asyncio
import socket
import threading

import pytest
from aiosmtpd.controller import Controller


class Sink:
    """An SMTP server's handler: keeps what it receives; can refuse, hold, stall or answer late.

    `received` holds (recipient, content, smtp_utf8) of each message it accepted; `seen` counts
    the bodies it was given.

    - `reply` answers each body (e.g. "451 ..." refuses it); `refuse(reply, times)` refuses only
      the next `times` bodies, then answers "250 OK" again.
    - While `hold` is on, the `hold_from`-th body (and after) waits until `release()`; a client
      that goes away meanwhile cancels it (`dropped` is set) and it is never received.
    - `stall(seconds, at="MAIL", times)`: the next `times` MAIL (or RCPT, or QUIT) commands are
      answered only after `seconds`: a client that gives up at MAIL or RCPT has sent no body (a
      transient failure). `stalled` counts them.
    - `answer_late(seconds, times=None, to=None)`: the bodies to the recipients in `to` (or the
      next `times`, or all) are received (kept in `received`), and "250 OK" is said only after
      `seconds`: a client that gives up first cannot know the message went (uncertain). `late`
      lists their recipients.
    """

    def __init__(self):
        self.received = []
        self.reply = "250 OK"
        self.refusals_left = None  # None: `reply` answers every body
        self.hold = False
        self.hold_from = 1
        self.seen = 0
        self.holding = threading.Event()
        self.released = threading.Event()
        self.dropped = threading.Event()
        self.stall_seconds, self.stall_at, self.stalls_left, self.stalled = 0.0, "MAIL", 0, 0
        self.late_seconds, self.lates_left, self.late_to, self.late = 0.0, 0, None, []
        self.lock = threading.Lock()

    def release(self):
        self.released.set()

    def refuse(self, reply: str, times: int | None = None):
        with self.lock:
            self.reply, self.refusals_left = reply, times

    def stall(self, seconds: float, at: str = "MAIL", times: int = 1):
        assert at in ("MAIL", "RCPT", "QUIT")
        with self.lock:
            self.stall_seconds, self.stall_at, self.stalls_left = seconds, at, times

    def answer_late(self, seconds: float, times: int | None = None, to=None):
        with self.lock:
            self.late_seconds, self.lates_left = seconds, times if to is None else 0
            self.late_to = frozenset(to) if to is not None else None

    def _answers_late(self, recipient: str) -> bool:
        if self.late_to is not None:
            return recipient in self.late_to
        if self.lates_left is None:
            return True
        if self.lates_left > 0:
            self.lates_left -= 1
            return True
        return False

    def copies(self) -> dict:
        """How many copies each recipient was given."""
        counts = {}
        for recipient, _, _ in list(self.received):
            counts[recipient] = counts.get(recipient, 0) + 1
        return counts

    async def _stall(self, command: str):
        with self.lock:
            stalling = self.stall_at == command and self.stalls_left > 0
            if stalling:
                self.stalls_left -= 1
                self.stalled += 1
        if stalling:
            await asyncio.sleep(self.stall_seconds)  # cancelled if the client goes meanwhile

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        await self._stall("MAIL")
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        await self._stall("RCPT")
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_QUIT(self, server, session, envelope):
        await self._stall("QUIT")
        return "221 Bye"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.seen += 1
            seen = self.seen
        if self.hold and seen >= self.hold_from:
            self.holding.set()
            try:  # wait without blocking the server's loop; cancelled if the client goes
                await asyncio.get_running_loop().run_in_executor(None, self.released.wait, 120)
            except asyncio.CancelledError:
                self.dropped.set()
                raise
        recipient = envelope.rcpt_tos[0]
        with self.lock:
            reply = self.reply
            if self.refusals_left is not None and not reply.startswith("250"):
                self.refusals_left -= 1
                if self.refusals_left <= 0:
                    self.reply, self.refusals_left = "250 OK", None
            late = reply.startswith("250") and self._answers_late(recipient)
            if reply.startswith("250"):
                self.received.append((recipient, envelope.content.decode(errors="replace"), envelope.smtp_utf8))
            if late:
                self.late.append(recipient)
        if late:
            await asyncio.sleep(self.late_seconds)  # the message is kept; only the reply is late
        return reply


def start_sink():
    """A started (controller, sink) on a free port of 127.0.0.1 (`sink.port`)."""
    sink = Sink()
    with socket.socket() as probe:  # a free port (the controller checks its port by connecting)
        probe.bind(("127.0.0.1", 0))
        sink.port = probe.getsockname()[1]
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    return controller, sink


def mail_settings(sink) -> dict:
    """The app settings that send e-mail to `sink`."""
    return {"MAIL_TRANSPORT": "smtp", "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": sink.port,
            "MAIL_DEFAULT_SENDER": "office@example.com"}


def mail_env(sink) -> dict:
    """The same settings as environment variables, for a `flask worker` process."""
    return {name: str(value) for name, value in mail_settings(sink).items()}


@pytest.fixture
def smtp():
    """A started Sink (import this fixture into a test module to use it)."""
    controller, sink = start_sink()
    yield sink
    sink.release()
    controller.stop()
