"""Operations: the read-only ops API, its dashboard, ``pairchat inspect`` and the sweeper.

Everything here reads Redis through :mod:`pairchat_ops.readmodel` (bounded work per call,
never ``KEYS``); the only writer is the sweeper, through one Lua script.
"""
