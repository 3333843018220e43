"""Where the doctor sends Grafana's admin password: over HTTPS or to a loopback address only, never
in a redirected request, and no redirect to another host is followed. A recording server on
127.0.0.2 stands for the other host; nothing leaves this machine."""

from __future__ import annotations

import socket

import pytest

from doctor.http import Http, HttpError
from support.loopback import LoopbackServer, QuietHandler

CREDENTIALS = ("admin", "s3cret-admin-password")


class Recorder(QuietHandler):
    """The other host: records every request's path and Authorization header."""

    seen: list[tuple[str, str | None]] = []

    def do_GET(self) -> None:  # noqa: N802
        type(self).seen.append((self.path, self.headers.get("Authorization")))
        self.send_json(200, {"database": "ok"})


def redirecting_to(target: str) -> type[QuietHandler]:
    class Redirector(QuietHandler):
        seen: list[tuple[str, str | None]] = []

        def do_GET(self) -> None:  # noqa: N802
            type(self).seen.append((self.path, self.headers.get("Authorization")))
            if self.path.startswith("/moved"):
                self.send_json(200, {"database": "ok"})
                return
            self.send(302, b"", headers={"Location": f"{target}{self.path}"})

    return Redirector


@pytest.fixture
def other_host():
    Recorder.seen = []
    server = LoopbackServer(Recorder, host="127.0.0.2").start()
    yield server
    server.stop()


def test_a_redirect_to_another_host_is_not_followed_and_gets_nothing(other_host):
    handler = redirecting_to(other_host.url)
    grafana = LoopbackServer(handler).start()
    try:
        reply = Http(timeout=5).get(f"{grafana.url}/api/datasources/name/Prometheus", auth=CREDENTIALS)
    finally:
        grafana.stop()
    assert reply.status == 302, "answered as the redirect itself: the check fails naming it"
    assert handler.seen[0][1] is not None, "the asked host itself gets the password (loopback)"
    assert Recorder.seen == [], "the other host is never asked, with or without the password"


def test_a_same_host_redirect_is_followed_without_the_password():
    handler = redirecting_to("/moved")  # a relative Location: the same scheme, host and port
    grafana = LoopbackServer(handler).start()
    try:
        reply = Http(timeout=5).get(f"{grafana.url}/api/health", auth=CREDENTIALS)
    finally:
        grafana.stop()
    assert reply.status == 200
    (first, moved) = handler.seen
    assert first[1] is not None and moved == ("/moved/api/health", None)


def test_plain_http_to_another_host_never_carries_the_password(monkeypatch):
    def no_connection(*args, **kwargs):
        raise AssertionError(f"a connection was attempted: {args}")

    monkeypatch.setattr(socket, "create_connection", no_connection)
    with pytest.raises(HttpError, match="not sending Grafana's admin password over plain HTTP to 192.0.2.10"):
        Http(timeout=5).get("http://192.0.2.10:3000/api/datasources/name/Prometheus", auth=CREDENTIALS)


def test_loopback_and_https_may_carry_it(other_host):
    reply = Http(timeout=5).get(f"{other_host.url}/api/health", auth=CREDENTIALS)
    assert reply.status == 200 and Recorder.seen[0][1].startswith("Basic ")
    from doctor.http import is_loopback

    assert is_loopback("localhost") and is_loopback("127.0.0.2") and is_loopback("::1")
    assert not is_loopback("grafana.example.com") and not is_loopback("10.0.0.1")
