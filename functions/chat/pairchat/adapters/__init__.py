"""AWS-facing implementations of the domain's ports: the Management API notifier (SigV4 or
boto3), Powertools telemetry, token verification with SSM/Secrets Manager/JWKS keys, and the
Redis client factory. Only :mod:`pairchat.bootstrap` and the entry points import these."""
