"""ARM failures in one sentence: which operation, on what, the status and ARM's own words."""

from __future__ import annotations

from tools.deploy.targets.appservice.credentials import describe_auth_failure


def describe_arm_error(exc: BaseException, operation: str, resource: str) -> str:
    """What went wrong with an ARM call, in one sentence (never with a token in it)."""
    from azure.core.exceptions import (
        ClientAuthenticationError,
        HttpResponseError,
        ResourceNotFoundError,
        ServiceRequestError,
    )

    if isinstance(exc, ClientAuthenticationError) and getattr(exc, "status_code", None) is None:
        return describe_auth_failure(exc)  # raised by azure-identity: no token at all
    if isinstance(exc, HttpResponseError):
        status = exc.status_code
        code = getattr(exc.error, "code", None) if exc.error is not None else None
        message = getattr(exc.error, "message", None) if exc.error is not None else None
        text = f"{operation} on {resource} was rejected by ARM ({status}"
        text += f" {code})" if code else ")"
        if message or exc.reason:
            text += f": {message or exc.reason}"
        if status == 401:
            text += "; the Azure credential was not accepted — log in again"
        elif status == 403:
            text += "; the identity lacks permission on this app"
        elif isinstance(exc, ResourceNotFoundError):
            text += "; check subscription_id, resource_group and app_name"
        return text
    if isinstance(exc, ServiceRequestError):
        return f"{operation} on {resource}: could not reach ARM ({exc})"
    return f"{operation} on {resource} failed: {type(exc).__name__}: {exc}"
