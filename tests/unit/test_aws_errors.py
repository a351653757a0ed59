"""botocore's errors (real exception objects, as botocore raises them) as NOVA errors."""

from __future__ import annotations

from botocore import exceptions as bx

from backends.aws.errors import retryable, translate
from console.errors import Code, NovaError


def client_error(code: str, message: str = "m", *, status: int = 400, retries: int = 0,
                 operation: str = "StopInstances") -> bx.ClientError:
    return bx.ClientError({"Error": {"Code": code, "Message": message},
                           "ResponseMetadata": {"HTTPStatusCode": status, "RetryAttempts": retries}},
                          operation)


def nova(exc: BaseException, **kw: object) -> NovaError:
    return translate(exc, operation=str(kw.pop("operation", "StopInstances")),
                     profile=str(kw.pop("profile", "prod")), region="eu-west-1", **kw)  # type: ignore[arg-type]


def test_denied_names_the_call_and_the_profile() -> None:
    for code in ("UnauthorizedOperation", "AccessDenied"):
        error = nova(client_error(code, "You are not authorized"))
        assert error.kind is Code.PERMISSION_DENIED
        assert "StopInstances" in error.detail and "'prod'" in error.detail
        assert error.cause == f"{code}: You are not authorized"


def test_ec2_codes_map_onto_nova_codes() -> None:
    assert nova(client_error("InvalidInstanceID.NotFound")).kind is Code.VM_NOT_FOUND
    assert nova(client_error("IncorrectInstanceState")).kind is Code.INVALID_STATE
    assert nova(client_error("InsufficientInstanceCapacity")).kind is Code.INSUFFICIENT_RESOURCES
    assert nova(client_error("SomethingNew")).kind is Code.BACKEND_ERROR


def test_throttled_after_retries_says_throttled_and_how_often() -> None:
    error = nova(client_error("RequestLimitExceeded", retries=2))
    assert error.kind is Code.BACKEND_ERROR
    assert "throttled" in error.detail and "after 3 attempts" in error.detail
    assert retryable(_raised(error, client_error("RequestLimitExceeded")))
    assert retryable(_raised(nova(client_error("Boom", status=503)), client_error("Boom", status=503)))
    assert not retryable(_raised(nova(client_error("IncorrectInstanceState")),
                                 client_error("IncorrectInstanceState")))


def _raised(error: NovaError, cause: BaseException) -> NovaError:
    try:
        raise error from cause
    except NovaError as raised:
        return raised


def test_expired_sso_session_says_exactly_what_to_run() -> None:
    for exc in (bx.UnauthorizedSSOTokenError(), bx.SSOTokenLoadError(error_msg="no token"),
                bx.TokenRetrievalError(provider="sso", error_msg="expired")):
        error = nova(exc, profile="ops")
        assert error.kind is Code.PERMISSION_DENIED
        assert "run `aws sso login --profile ops`" in error.detail


def test_unknown_profile_names_the_files_and_suggests() -> None:
    error = nova(bx.ProfileNotFound(profile="prdo"), profile="prdo",
                 files=("/etc/aws/config", "/etc/aws/credentials"),
                 profiles_found=("prod", "staging"))
    assert error.kind is Code.CONFIG_INVALID
    assert "/etc/aws/config" in error.detail and "/etc/aws/credentials" in error.detail
    assert "did you mean 'prod'" in error.detail and "prod, staging" in error.detail


def test_no_credentials_and_no_endpoint() -> None:
    assert nova(bx.NoCredentialsError()).kind is Code.PERMISSION_DENIED
    unreachable = nova(bx.EndpointConnectionError(endpoint_url="https://ec2.eu-west-1.amazonaws.com"))
    assert unreachable.kind is Code.HOST_UNREACHABLE
    assert retryable(_raised(unreachable, bx.EndpointConnectionError(endpoint_url="x")))
