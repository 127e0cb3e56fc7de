"""An SMTP server in this process (aiosmtpd) that keeps what it receives, for delivery tests."""
import asyncio
import socket
import threading

import pytest
from aiosmtpd.controller import Controller


class Sink:
    """An SMTP server's handler: keeps what it receives; can refuse, or hold a message.

    `received` holds (recipient, content, smtp_utf8) of each message it accepted. While `hold`
    is on, the `hold_from`-th message (and after) waits at DATA until `release()`; a client
    that goes away meanwhile cancels it (`dropped` is set) and it is never received."""

    def __init__(self):
        self.received = []
        self.reply = "250 OK"
        self.hold = False
        self.hold_from = 1
        self.seen = 0
        self.holding = threading.Event()
        self.released = threading.Event()
        self.dropped = threading.Event()

    def release(self):
        self.released.set()

    async def handle_DATA(self, server, session, envelope):
        self.seen += 1
        if self.hold and self.seen >= self.hold_from:
            self.holding.set()
            try:  # wait without blocking the server's loop; cancelled if the client goes
                await asyncio.get_running_loop().run_in_executor(None, self.released.wait, 120)
            except asyncio.CancelledError:
                self.dropped.set()
                raise
        if self.reply.startswith("250"):
            self.received.append((envelope.rcpt_tos[0], envelope.content.decode(errors="replace"),
                                  envelope.smtp_utf8))
        return self.reply


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


@pytest.fixture
def smtp():
    """A started Sink (import this fixture into a test module to use it)."""
    controller, sink = start_sink()
    yield sink
    sink.release()
    controller.stop()
