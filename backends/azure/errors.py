"""Map Azure SDK errors onto NOVA-xxxx codes, keeping ARM's error code and message as the cause.

A missing or expired sign-in says exactly what to run; a throttled call (HTTP 429 after the
SDK's own retries) says so, rather than a bare "backend error".
"""

from __future__ import annotations

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)

from console.errors import Code, NovaError

SIGN_IN_HINT = ("run `az login` (and `az account set --subscription ID`), or set "
                "AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET for a service "
                "principal; on an Azure host, give it a managed identity")

_BY_ARM_CODE: dict[str, Code] = {
    "ResourceNotFound": Code.VM_NOT_FOUND,
    "NotFound": Code.VM_NOT_FOUND,
    "ResourceGroupNotFound": Code.VM_NOT_FOUND,
    "AuthorizationFailed": Code.PERMISSION_DENIED,
    "LinkedAuthorizationFailed": Code.PERMISSION_DENIED,
    "InvalidAuthenticationToken": Code.PERMISSION_DENIED,
    "ExpiredAuthenticationToken": Code.PERMISSION_DENIED,
    "SubscriptionNotFound": Code.PERMISSION_DENIED,
    "OperationNotAllowed": Code.INVALID_STATE,
    "Conflict": Code.INVALID_STATE,
    "ConflictingUserInput": Code.INVALID_STATE,
    "OperationPreempted": Code.OPERATION_IN_PROGRESS,
    "AllocationFailed": Code.INSUFFICIENT_RESOURCES,
    "ZonalAllocationFailed": Code.INSUFFICIENT_RESOURCES,
    "SkuNotAvailable": Code.INSUFFICIENT_RESOURCES,
    "QuotaExceeded": Code.INSUFFICIENT_RESOURCES,
}

_BY_STATUS: dict[int, Code] = {
    401: Code.PERMISSION_DENIED,
    403: Code.PERMISSION_DENIED,
    404: Code.VM_NOT_FOUND,
    409: Code.INVALID_STATE,
}


def arm_error(err: HttpResponseError) -> tuple[str, str]:
    """ARM's (code, message) from an error response, as far as the SDK parsed it."""
    odata = getattr(err, "error", None)
    code = getattr(odata, "code", None) or ""
    message = getattr(odata, "message", None) or err.message or str(err)
    return str(code), str(message).strip()


def translate(exc: BaseException, detail: str = "", *, retries: int = 0) -> NovaError:
    """Any Azure SDK failure as a NovaError whose cause keeps ARM's own code and message."""
    if isinstance(exc, NovaError):
        return exc
    if isinstance(exc, ClientAuthenticationError) and getattr(exc, "status_code", None) in (
            None, 0):
        # raised by the credential itself: no token at all (CredentialUnavailableError is one)
        return NovaError(Code.PERMISSION_DENIED, detail or "Azure sign-in",
                         f"{_first_line(exc)}; {SIGN_IN_HINT}")
    if isinstance(exc, HttpResponseError):
        status = exc.status_code or 0
        code, message = arm_error(exc)
        cause = f"{code}: {message}" if code else message
        if status == 429 or code in ("TooManyRequests", "SubscriptionRequestsThrottled"):
            return NovaError(Code.BACKEND_ERROR, detail or "Azure Resource Manager",
                             f"throttled by Azure Resource Manager (HTTP 429) after {retries} "
                             f"retries; wait and try again, or poll less often ({cause})")
        kind = _BY_ARM_CODE.get(code) or _status_code(exc, status)
        if kind is Code.PERMISSION_DENIED and status == 401:
            cause = f"{cause}; the token was refused: {SIGN_IN_HINT}"
        elif kind is Code.PERMISSION_DENIED:
            cause = (f"{cause}; ask for a role that allows it on this scope (e.g. Virtual "
                     "Machine Contributor)")
        return NovaError(kind, detail, cause)
    if isinstance(exc, ServiceRequestError | ServiceResponseError):
        return NovaError(Code.HOST_UNREACHABLE, detail or "Azure Resource Manager",
                         _first_line(exc))
    if isinstance(exc, TimeoutError):
        return NovaError(Code.TIMEOUT, detail, "Azure did not answer in time")
    if isinstance(exc, AzureError):
        return NovaError(Code.BACKEND_ERROR, detail, _first_line(exc))
    return NovaError(Code.BACKEND_ERROR, detail, f"{type(exc).__name__}: {exc}")


def _status_code(exc: HttpResponseError, status: int) -> Code:
    if isinstance(exc, ResourceNotFoundError):
        return Code.VM_NOT_FOUND
    if isinstance(exc, ResourceExistsError):
        return Code.INVALID_STATE
    return _BY_STATUS.get(status, Code.BACKEND_ERROR)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
