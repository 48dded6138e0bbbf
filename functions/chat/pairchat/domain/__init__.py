"""The chat domain: what each client action means, in Redis scripts and plain Python.

Imports nothing from Lambda, HTTP or AWS: the adapters implement the ports in
:mod:`pairchat.domain.ports` and :mod:`pairchat.bootstrap` wires them in.
"""
