"""pairchat: one-to-one stranger chat on API Gateway WebSockets, Lambda and Redis."""

__version__ = "0.1.0"
