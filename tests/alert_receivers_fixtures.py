"""Real local receivers for alert tests: an HTTP webhook server and an SMTP server (aiosmtpd)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller

from fwjr.devstack.broker import free_port


@dataclass
class Webhook:
    """A webhook receiver; answers `fail_first` requests with HTTP 503 before accepting.

    With a `gate`, every request is counted in `arrived` and then held, unanswered, until the
    test sets the gate: a receiver that hangs for as long as the test wants.
    """

    url: str
    bodies: list[dict] = field(default_factory=list)
    refused: int = 0
    fail_first: int = 0
    gate: threading.Event | None = None
    arrived: int = 0


@dataclass
class Mailbox:
    host: str
    port: int
    messages: list[Message] = field(default_factory=list)


def _handler(hook: Webhook) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            hook.arrived += 1
            if hook.gate is not None:
                hook.gate.wait()
            if hook.refused < hook.fail_first:
                hook.refused += 1
                self.send_response(503)
                self.end_headers()
                return
            hook.bodies.append(json.loads(body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return

    return Handler


@contextmanager
def serve_webhook() -> Iterator[Webhook]:
    """A webhook server on a free loopback port, for the duration of the block."""
    port = free_port()
    hook = Webhook(url=f"http://127.0.0.1:{port}/alerts")
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler(hook))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()


class _Collect:
    def __init__(self, box: Mailbox) -> None:
        self.box = box

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:  # noqa: N802 (aiosmtpd hook name)
        self.box.messages.append(message_from_bytes(envelope.original_content))
        return "250 Message accepted for delivery"


@contextmanager
def serve_mailbox() -> Iterator[Mailbox]:
    """An SMTP server on a free loopback port, for the duration of the block."""
    port = free_port()
    box = Mailbox(host="127.0.0.1", port=port)
    controller = Controller(_Collect(box), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    with serve_webhook() as hook:
        yield hook


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with serve_mailbox() as box:
        yield box
