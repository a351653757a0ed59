"""Mapping of requests / prometheus-api-client failures onto NOVA codes (pure, no network)."""

from __future__ import annotations

import json

import requests
from prometheus_api_client.exceptions import PrometheusApiClientException
from urllib3.exceptions import MaxRetryError, NewConnectionError, ReadTimeoutError

from backends.prometheus.errors import translate
from backends.prometheus.parse import MalformedResponse
from console.errors import Code

URL = "http://prom.example:9090/api/v1/query"


def wrapped(reason: Exception) -> requests.exceptions.ConnectionError:
    """What requests raises when urllib3 gives up after zero retries."""
    return requests.exceptions.ConnectionError(MaxRetryError(None, "/api/v1/query", reason))  # type: ignore[arg-type]


def test_connection_refused_is_host_unreachable_with_the_reason() -> None:
    err = translate(wrapped(NewConnectionError(
        None, "Failed to establish a new connection: [Errno 111] Connection refused")), URL, 5)  # type: ignore[arg-type]
    assert err.kind is Code.HOST_UNREACHABLE
    assert err.cause == f"{URL}: Connection refused"


def test_read_timeouts_are_timeouts_however_wrapped() -> None:
    for exc in (requests.exceptions.ReadTimeout("x"),
                wrapped(ReadTimeoutError(None, "/", "Read timed out."))):  # type: ignore[arg-type]
        err = translate(exc, URL, 2.5)
        assert err.kind is Code.TIMEOUT
        assert err.cause == f"no answer from {URL} within 2.5 s"
    err = translate(requests.exceptions.ConnectTimeout("x"), URL, 1)
    assert (err.kind, err.cause) == (Code.TIMEOUT, f"could not connect to {URL} within 1 s")


def test_malformed_answers() -> None:
    try:
        requests.models.complexjson.loads("{not json")
    except ValueError as exc:
        decode = requests.exceptions.JSONDecodeError(str(exc), "{not json", 1)
    for exc in (decode, MalformedResponse("a series' metric is not an object"), KeyError("data")):
        err = translate(exc, URL, 5)
        assert err.kind is Code.BACKEND_ERROR
        assert err.cause.startswith(f"malformed JSON from {URL}: ")
    assert translate(KeyError("data"), URL, 5).cause.endswith("missing field 'data'")


def api_error(status: int, body: bytes) -> PrometheusApiClientException:
    return PrometheusApiClientException(f"HTTP Status Code {status} ({body!r})")


def test_http_errors_carry_prometheus_own_message() -> None:
    body = json.dumps({"status": "error", "errorType": "bad_data",
                       "error": 'invalid parameter "query": 1:5: parse error'}).encode()
    err = translate(api_error(400, body), URL, 5)
    assert err.kind is Code.BACKEND_ERROR
    assert err.cause == f'HTTP 400 from {URL}: invalid parameter "query": 1:5: parse error'
    timeout = json.dumps({"status": "error", "errorType": "timeout", "error": "query timed out"})
    assert translate(api_error(503, timeout.encode()), URL, 5).kind is Code.TIMEOUT
    assert translate(api_error(401, b"Unauthorized"), URL, 5).kind is Code.PERMISSION_DENIED
    plain = translate(api_error(502, b"<html>Bad Gateway</html>"), URL, 5)
    assert plain.cause == f"HTTP 502 from {URL}: <html>Bad Gateway</html>"


def test_anything_else_is_a_backend_error_not_a_crash() -> None:
    err = translate(RuntimeError("boom"), URL, 5)
    assert (err.kind, err.cause) == (Code.BACKEND_ERROR, "RuntimeError: boom")
    assert str(err).startswith("NOVA-9000: The backend reported an error: http://prom")
