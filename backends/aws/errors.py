"""botocore's errors as NOVA codes, AWS's own code and message kept as the cause.

The operator reads what to do: the API call and profile a permission is missing for, the
exact `aws sso login --profile X` for an expired SSO session, the files a profile was looked
for in, "throttled" when AWS kept refusing after the retries.
"""

from __future__ import annotations

import difflib

from botocore import exceptions as bx

from console.errors import Code, NovaError

BY_CODE: dict[str, Code] = {
    "InvalidInstanceID.NotFound": Code.VM_NOT_FOUND,
    "InvalidInstanceID.Malformed": Code.VM_NOT_FOUND,
    "InvalidSnapshot.NotFound": Code.VM_NOT_FOUND,
    "IncorrectInstanceState": Code.INVALID_STATE,
    "IncorrectState": Code.INVALID_STATE,
    "OperationNotPermitted": Code.INVALID_STATE,
    "UnsupportedOperation": Code.NOT_SUPPORTED,
    "UnsupportedHibernationConfiguration": Code.NOT_SUPPORTED,
    "InsufficientInstanceCapacity": Code.INSUFFICIENT_RESOURCES,
    "InstanceLimitExceeded": Code.INSUFFICIENT_RESOURCES,
    "VcpuLimitExceeded": Code.INSUFFICIENT_RESOURCES,
}
DENIED = frozenset({"UnauthorizedOperation", "AccessDenied", "AccessDeniedException",
                    "OptInRequired"})
BAD_CREDENTIALS = frozenset({"AuthFailure", "InvalidClientTokenId", "UnrecognizedClientException",
                             "SignatureDoesNotMatch", "ExpiredToken", "ExpiredTokenException",
                             "RequestExpired"})
THROTTLED = frozenset({"RequestLimitExceeded", "Throttling", "ThrottlingException",
                       "RequestThrottled", "RequestThrottledException", "TooManyRequestsException",
                       "SlowDown", "PriorRequestNotComplete"})
UNAVAILABLE = frozenset({"InternalError", "InternalFailure", "ServiceUnavailable", "Unavailable",
                         "ServiceUnavailableException"})


def sso_login(profile: str) -> str:
    flag = "" if profile == "default" else f" --profile {profile}"
    return f"aws sso login{flag}"


def translate(exc: BaseException, *, operation: str, profile: str, region: str = "",
              files: tuple[str, str] = ("~/.aws/config", "~/.aws/credentials"),
              profiles_found: tuple[str, ...] = ()) -> NovaError:
    """One botocore (or boto3) exception as a NovaError naming what to fix."""
    where = f"profile {profile!r}" + (f", {region}" if region else "")
    if isinstance(exc, NovaError):
        return exc
    if isinstance(exc, bx.ClientError):
        return _client_error(exc, operation=operation, profile=profile, where=where)
    if isinstance(exc, bx.ProfileNotFound):
        found = ", ".join(profiles_found) or "none"
        close = difflib.get_close_matches(profile, profiles_found, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return NovaError(Code.CONFIG_INVALID, f"AWS profile {profile!r} is not defined in "
                         f"{files[0]} or {files[1]} (AWS_CONFIG_FILE / "
                         f"AWS_SHARED_CREDENTIALS_FILE): {hint}profiles there: {found}", str(exc))
    if isinstance(exc, (bx.UnauthorizedSSOTokenError, bx.SSOTokenLoadError)) or (
            isinstance(exc, bx.TokenRetrievalError) and "sso" in str(exc).lower()):
        return NovaError(Code.PERMISSION_DENIED, f"the SSO session of {where} has expired or "
                         f"was never started: run `{sso_login(profile)}`", str(exc))
    if isinstance(exc, bx.NoCredentialsError):
        return NovaError(Code.PERMISSION_DENIED, f"no AWS credentials for {where} (looked in "
                         f"the environment, {files[1]}, {files[0]}, SSO and the instance role)",
                         str(exc))
    if isinstance(exc, bx.NoRegionError):
        return NovaError(Code.CONFIG_INVALID, f"no region for {where}: list `regions` in the "
                         f"source or set `region =` in the profile", str(exc))
    if isinstance(exc, (bx.ConnectTimeoutError, bx.EndpointConnectionError)):
        return NovaError(Code.HOST_UNREACHABLE, f"{operation} for {where}: the AWS endpoint "
                         "did not answer", str(exc))
    if isinstance(exc, bx.ReadTimeoutError):
        return NovaError(Code.TIMEOUT, f"{operation} for {where}: no response in time", str(exc))
    if isinstance(exc, bx.ParamValidationError):
        return NovaError(Code.BACKEND_ERROR, f"{operation} for {where}: invalid request",
                         str(exc))
    if isinstance(exc, bx.BotoCoreError):
        return NovaError(Code.BACKEND_ERROR, f"{operation} for {where}", str(exc))
    return NovaError(Code.BACKEND_ERROR, f"{operation} for {where}",
                     f"{type(exc).__name__}: {exc}")


def _client_error(exc: bx.ClientError, *, operation: str, profile: str, where: str) -> NovaError:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    cause = f"{code}: {error.get('Message', '')}".strip(": ")
    op = exc.operation_name or operation
    attempts = exc.response.get("ResponseMetadata", {}).get("RetryAttempts", 0) + 1
    if code in DENIED:
        return NovaError(Code.PERMISSION_DENIED, f"{where} may not call {op}: grant it in the "
                         "IAM policy of that profile's role or user", cause)
    if code in BAD_CREDENTIALS:
        return NovaError(Code.PERMISSION_DENIED, f"the credentials of {where} were refused "
                         f"calling {op}: refresh them (for SSO: `{sso_login(profile)}`)", cause)
    if code in THROTTLED:
        return NovaError(Code.BACKEND_ERROR, f"{op} for {where}: throttled by AWS, still "
                         f"refused after {attempts} attempts; try again later or raise "
                         "max_attempts / use retry_mode = \"adaptive\"", cause)
    if code in UNAVAILABLE or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500:
        return NovaError(Code.BACKEND_ERROR, f"{op} for {where}: AWS answered with a server "
                         f"error after {attempts} attempts", cause)
    return NovaError(BY_CODE.get(code, Code.BACKEND_ERROR), f"{op} for {where}", cause)


def retryable(exc: NovaError) -> bool:
    """Could the call have failed on the way (throttled, a server error, a lost connection or
    response)? Then the request may or may not have been done: check before trying again."""
    cause = exc.__cause__
    if isinstance(cause, bx.ClientError):
        code = str(cause.response.get("Error", {}).get("Code", ""))
        status = int(cause.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        return code in THROTTLED or code in UNAVAILABLE or status >= 500
    return isinstance(cause, (bx.HTTPClientError, bx.ConnectionError, TimeoutError))
