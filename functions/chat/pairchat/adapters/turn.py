"""The TURN shared secret, from SSM Parameter Store (a SecureString), fetched on first use.

Direct connections through a TURN server get time-limited credentials signed with a secret
the TURN server shares with us (pairchat.domain.rtc). The secret never sits in a template
parameter or an environment variable in AWS: the function reads it once per cold start.
"""

from __future__ import annotations

from collections.abc import Callable

from pairchat.settings import Settings


def turn_secret_fetcher(settings: Settings) -> Callable[[], str] | None:
    """A function that returns the secret (``TURN_SECRET`` locally, else SSM), or None."""
    if settings.turn_secret:
        secret = settings.turn_secret
        return lambda: secret
    name = settings.turn_secret_parameter
    if not name:
        return None
    # SAM's SSMParameterReadPolicy names a hierarchical parameter without its leading slash;
    # the API wants one.
    if "/" in name and not name.startswith("/"):
        name = "/" + name
    region = settings.aws_region

    def fetch() -> str:
        import boto3

        ssm = boto3.session.Session().client("ssm", region_name=region)
        reply = ssm.get_parameter(Name=name, WithDecryption=True)
        return str(reply["Parameter"]["Value"])

    return fetch
