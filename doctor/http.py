"""A small HTTP client for the doctor: every request has a timeout; errors name the URL."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

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


class Http:
    def __init__(self, timeout: float = TIMEOUT):
        self.timeout = timeout

    def get(self, url: str, auth: tuple[str, str] | None = None) -> Response:
        """Any HTTP status is a Response; only no answer at all raises."""
        request = urllib.request.Request(url, headers={"Accept": "application/json"})
        if auth is not None:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as reply:  # noqa: S310 (user's URLs)
                return Response(reply.status, {k.lower(): v for k, v in reply.headers.items()}, reply.read())
        except urllib.error.HTTPError as error:
            return Response(error.code, {k.lower(): v for k, v in error.headers.items()}, error.read())
        except (urllib.error.URLError, OSError) as error:
            raise HttpError(f"{url}: no answer ({getattr(error, 'reason', error)})") from error

    def json(self, url: str, allow_error: bool = False, auth: tuple[str, str] | None = None) -> Any:
        """The JSON body; a non-2xx status raises unless `allow_error` (the body is then still parsed)."""
        response = self.get(url, auth)
        if response.status >= 400 and not allow_error:
            raise HttpError(f"{url}: HTTP {response.status}")
        return response.json()
