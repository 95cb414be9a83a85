"""The one way to build boto3 sessions and clients for the emulator.

The emulator (moto's server) accepts any credentials; it answers for the account an access key
belongs to: moto's default account (:data:`ACCOUNT_ID`) for the dummy key, the IAM user's
account for a key moto issued, or the account named by the ``x-moto-account-id`` header, which
``account_id=`` adds to every request. The region is us-east-1 unless told otherwise.
"""

from __future__ import annotations

from typing import Any

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account (the dummy key's)
ACCESS_KEY = "testing"
SECRET_KEY = "testing"

#: The header moto reads to answer a request for another account.
ACCOUNT_HEADER = "x-moto-account-id"


def env(endpoint: str, region: str = REGION) -> dict[str, str]:
    """Environment variables that point the AWS CLI and boto3 at ``endpoint``."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
    }


def session(
    region: str = REGION, credentials: tuple[str, str] | None = None
) -> Any:  # boto3.session.Session
    """A boto3 session with the dummy credentials (or ``credentials``: key id, secret) that
    reads no profile or credentials file."""
    import boto3

    key, secret = credentials or (ACCESS_KEY, SECRET_KEY)
    return boto3.session.Session(
        aws_access_key_id=key, aws_secret_access_key=secret, region_name=region
    )


def client(
    service: str,
    endpoint: str,
    *,
    region: str = REGION,
    credentials: tuple[str, str] | None = None,
    account_id: str | None = None,
    config: Any = None,
    boto_session: Any = None,
) -> Any:
    """A boto3 client for ``service`` at the emulator's ``endpoint``.

    ``credentials``: (access key id, secret), the dummy pair by default. ``account_id``: answer
    for this account (moto's header) whatever the key. ``config``: a botocore ``Config``.
    ``boto_session``: build from this session (clients of one session share its caches)."""
    sess = boto_session or session(region, credentials)
    made = sess.client(service, endpoint_url=endpoint, region_name=region, config=config)
    if account_id is not None:

        def to_account(request: Any, **_: Any) -> None:
            request.headers[ACCOUNT_HEADER] = account_id

        made.meta.events.register("before-sign.*.*", to_account)
    return made


class Clients:
    """Clients of one session for one endpoint, made on first use: ``clients("s3")``."""

    def __init__(
        self,
        endpoint: str,
        *,
        region: str = REGION,
        credentials: tuple[str, str] | None = None,
        account_id: str | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.region = region
        self.credentials = credentials
        self.account_id = account_id
        self._session = session(region, credentials)
        self._made: dict[str, Any] = {}

    def __call__(self, service: str) -> Any:
        if service not in self._made:
            self._made[service] = client(
                service,
                self.endpoint,
                region=self.region,
                account_id=self.account_id,
                boto_session=self._session,
            )
        return self._made[service]
