"""Map what `requests` and prometheus-api-client raise onto NOVA-xxxx codes.

Why a module of its own: the operator sees one of three plain situations (Prometheus is down,
Prometheus is slow, Prometheus said something wrong) and the cause names the URL and the
concrete reason ("connection refused", "malformed JSON from http://…"), never a traceback.
"""

from __future__ import annotations

import ast
import json
import re

import requests
from prometheus_api_client.exceptions import PrometheusApiClientException
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NewConnectionError,
    ReadTimeoutError,
)

from console.errors import Code, NovaError

from .parse import MalformedResponse

_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\"\)]+)")
_STATUS = re.compile(r"HTTP Status Code (\d+) \((b?(['\"]).*\3)\)\s*$", re.S)


def _root(exc: BaseException) -> BaseException:
    """urllib3's own error under requests' wrapping (ConnectionError(MaxRetryError(reason)))."""
    inner: BaseException = exc
    for _ in range(4):
        if isinstance(inner, MaxRetryError) and inner.reason is not None:
            inner = inner.reason
        elif inner.args and isinstance(inner.args[0], BaseException):
            inner = inner.args[0]
        else:
            break
    return inner


def _reason(exc: BaseException) -> str:
    """The short reason buried in urllib3's wrapped exceptions, e.g. "Connection refused"."""
    text = str(exc)
    found = _ERRNO.search(text)
    if found:
        return found.group(1).strip()
    for marker in ("RemoteDisconnected", "Connection aborted", "Connection reset"):
        if marker in text:
            return "the server closed the connection without answering"
    return text.split("(Caused by")[-1].strip(" ()") or type(exc).__name__


def _http_error(exc: PrometheusApiClientException, url: str) -> NovaError:
    """prometheus-api-client only says "HTTP Status Code N (b'body')": dig out Prometheus's
    own `error` and `errorType` fields when the body is the API's JSON."""
    text = str(exc)
    found = _STATUS.search(text)
    if not found:
        return NovaError(Code.BACKEND_ERROR, url, text)
    status = int(found.group(1))
    try:
        raw = ast.literal_eval(found.group(2))
        body = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    except (ValueError, SyntaxError):
        body = found.group(2)
    message, kind = body.strip()[:300], ""
    try:
        decoded = json.loads(body)
        if isinstance(decoded, dict):
            message = str(decoded.get("error") or message)
            kind = str(decoded.get("errorType") or "")
    except ValueError:
        pass
    cause = f"HTTP {status} from {url}: {message}"
    if status in (401, 403):
        return NovaError(Code.PERMISSION_DENIED, url, cause)
    if kind == "timeout" or status in (408, 504):
        return NovaError(Code.TIMEOUT, url, cause)
    return NovaError(Code.BACKEND_ERROR, url, cause)


def translate(exc: BaseException, url: str, timeout_s: float) -> NovaError:
    """Turn an exception from one HTTP call to `url` into an operator-readable NovaError."""
    if isinstance(exc, NovaError):
        return exc
    root = _root(exc)
    if isinstance(exc, requests.exceptions.ReadTimeout) or isinstance(root, ReadTimeoutError):
        return NovaError(Code.TIMEOUT, url, f"no answer from {url} within {timeout_s:g} s")
    if isinstance(exc, requests.exceptions.ConnectTimeout) or (
            isinstance(root, ConnectTimeoutError) and not isinstance(root, NewConnectionError)):
        return NovaError(Code.TIMEOUT, url, f"could not connect to {url} within {timeout_s:g} s")
    if isinstance(exc, requests.exceptions.Timeout):
        return NovaError(Code.TIMEOUT, url, f"no answer from {url} within {timeout_s:g} s")
    if isinstance(exc, requests.exceptions.JSONDecodeError | MalformedResponse | KeyError
                  | TypeError | IndexError):
        return NovaError(Code.BACKEND_ERROR, url, f"malformed JSON from {url}: {_detail(exc)}")
    if isinstance(exc, requests.exceptions.ConnectionError | requests.exceptions.ChunkedEncodingError):
        return NovaError(Code.HOST_UNREACHABLE, url, f"{url}: {_reason(exc)}")
    if isinstance(exc, PrometheusApiClientException):
        return _http_error(exc, url)
    if isinstance(exc, requests.exceptions.RequestException):
        return NovaError(Code.BACKEND_ERROR, url, f"{url}: {_reason(exc)}")
    return NovaError(Code.BACKEND_ERROR, url, f"{type(exc).__name__}: {exc}")


def _detail(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return f"missing field {exc}"
    return str(exc) or type(exc).__name__
