"""Entra credentials for ARM and Kudu, and the one concession to loopback fakes.

`DefaultAzureCredential` unless the config names another azure-identity credential, or
the caller injects one (tests pass a fake that returns an `AccessToken`). Tokens are
fetched for the ARM scope, which Kudu accepts too; they are never logged or journaled.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from tools.deploy.target import TargetError
from tools.deploy.verifier import is_loopback_url

if TYPE_CHECKING:
    from azure.core.credentials import AccessToken, TokenCredential
    from azure.core.pipeline.policies import HTTPPolicy

    from tools.deploy.targets.appservice.settings import CredentialKind

PUBLIC_ARM_SCOPE = "https://management.azure.com/.default"


def arm_scope(arm_endpoint: str) -> str:
    """The token scope for an ARM endpoint (sovereign clouds have their own; fakes use public)."""
    if is_loopback_url(arm_endpoint):
        return PUBLIC_ARM_SCOPE
    parts = urlsplit(arm_endpoint)
    return f"{parts.scheme}://{parts.netloc}/.default"


def make_credential(kind: CredentialKind) -> TokenCredential:
    """The azure-identity credential named by `[deploy.appservice] credential`."""
    import azure.identity as identity  # lazily: azure-identity pulls in msal

    if kind == "loopback_test":
        return LoopbackTestCredential()
    factories: dict[str, Any] = {
        "default": identity.DefaultAzureCredential,
        "azure_cli": identity.AzureCliCredential,
        "managed_identity": identity.ManagedIdentityCredential,
        "environment": identity.EnvironmentCredential,
        "workload_identity": identity.WorkloadIdentityCredential,
    }
    return factories[kind]()


class LoopbackTestCredential:
    """A fixed, meaningless token for protocol fakes; the config allows it on loopback only."""

    TOKEN = "loopback-test-token"  # noqa: S105 - not a secret: fakes accept any token

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        from azure.core.credentials import AccessToken

        return AccessToken(self.TOKEN, int(time.time()) + 3600)


def loopback_auth_policy(credential: TokenCredential, scope: str) -> HTTPPolicy[Any, Any]:
    """ARM's bearer-token policy, allowed to send the token over plain http to loopback.

    azure-core refuses bearer tokens on non-https URLs; a protocol fake on 127.0.0.1 has no
    TLS. Only `arm_client` uses this, and only when the ARM endpoint is an http loopback URL.
    """
    from azure.mgmt.core.policies import ARMChallengeAuthenticationPolicy

    class _LoopbackPolicy(ARMChallengeAuthenticationPolicy):
        def on_request(self, request: Any) -> None:
            if not is_loopback_url(request.http_request.url):
                raise TargetError("refusing to send an Azure token off loopback over http")
            request.context["enforce_https"] = False
            super().on_request(request)

    return _LoopbackPolicy(credential, scope)


async def bearer_token(credential: TokenCredential, scope: str) -> str:
    """A token for `scope`, fetched off the event loop.

    Raises:
        TargetError: No credential is available or it was rejected; says how to log in.
    """
    try:
        token = await asyncio.to_thread(credential.get_token, scope)
    except Exception as exc:  # azure-identity raises several unrelated types
        raise TargetError(describe_auth_failure(exc)) from exc
    return token.token


def describe_auth_failure(exc: BaseException) -> str:
    """A clear message for a missing or invalid Azure credential (no token in it)."""
    first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return (
        f"Azure credentials are missing or invalid ({type(exc).__name__}: {first_line[:300]}); "
        "log in with `az login`, set AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET, or "
        "use a managed identity, then retry"
    )
