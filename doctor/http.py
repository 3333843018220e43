"""A small HTTP client for the doctor: every request has a timeout; errors name the URL.

Credentials (Grafana's admin password) go only over HTTPS or to a loopback address (a port-forward,
an SSH or SSM tunnel), never in a redirected request, and no redirect to another host is followed."""

from __future__ import annotations

import base64
import ipaddress
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

TIMEOUT = 10  # seconds per request


class HttpError(Exception):
    """The service did not answer, or answered with an error the check did not expect."""


@dataclass
class Response:
    status: int
    headers: dict[str, str]  # lowercase names
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError as error:
            raise HttpError(f"not JSON (HTTP {self.status}): {self.body[:120]!r}") from error


def is_loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port


class _SameOriginRedirects(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only within the same scheme, host and port; another one is answered as
    the redirect itself (the check then fails naming it)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        if _origin(newurl) != _origin(req.full_url):
            return None
        return super().redirect_request(req, fp, code, msg, headers, newurl)


class Http:
    def __init__(self, timeout: float = TIMEOUT):
        self.timeout = timeout
        self._opener = urllib.request.build_opener(_SameOriginRedirects)

    def get(self, url: str, auth: tuple[str, str] | None = None, bearer: str | None = None) -> Response:
        """Any HTTP status is a Response; only no answer at all raises. `auth`: Grafana's admin login
        (Basic); `bearer`: Ray's token."""
        request = urllib.request.Request(url, headers={"Accept": "application/json"})
        if auth is not None or bearer is not None:
            scheme, host, _ = _origin(url)
            if scheme != "https" and not is_loopback(host):
                what = "Grafana's admin password" if auth is not None else "Ray's token"
                raise HttpError(f"{url}: not sending {what} over plain HTTP to {host}: use the https URL, or a "
                                "port-forward or tunnel to localhost")
            credential = (f"Basic {base64.b64encode(f'{auth[0]}:{auth[1]}'.encode()).decode()}" if auth is not None
                          else f"Bearer {bearer}")
            # Unredirected: urllib copies ordinary headers into a redirected request, these it does not.
            request.add_unredirected_header("Authorization", credential)
        try:
            with self._opener.open(request, timeout=self.timeout) as reply:
                return Response(reply.status, {k.lower(): v for k, v in reply.headers.items()}, reply.read())
        except urllib.error.HTTPError as error:
            return Response(error.code, {k.lower(): v for k, v in error.headers.items()}, error.read())
        except (urllib.error.URLError, OSError) as error:
            raise HttpError(f"{url}: no answer ({getattr(error, 'reason', error)})") from error

    def json(self, url: str, allow_error: bool = False, auth: tuple[str, str] | None = None,
             bearer: str | None = None) -> Any:
        """The JSON body; a non-2xx status raises unless `allow_error` (the body is then still parsed)."""
        response = self.get(url, auth, bearer)
        if response.status >= 400 and not allow_error:
            raise HttpError(f"{url}: HTTP {response.status}")
        return response.json()
