"""What ``pairchat dev`` prints: one readable line per notable event, or Lambda's JSON.

The handlers log through Powertools, which writes one JSON object per record to stdout, as
CloudWatch wants it; locally that is a wall of JSON (a 30 s bots run wrote 3.5 MB). By default
:func:`adopt_handler_loggers` swaps the Powertools logger's handler for a readable one after
the handlers are imported (their cold start): ``HH:MM:SS LEVEL lambda: refused code=...``, and
records that repeat (same level, message and fields) within :data:`FOLD_S` seconds fold into
one line plus a count (``... (x412 in 10 s)``), so a load test costs a few lines per second
at most, never one per frame. ``pairchat dev --json-logs`` leaves Powertools' JSON alone.

Identifiers (user ids, which are token subjects for token users) are left out of the
readable lines; the JSON lines are what the Lambda functions write in AWS.

The choice travels to the handler worker processes in :data:`MODE_ENV`, which ``pairchat dev``
sets before it starts them.

Every process of the stack writes whole lines to stdout (:class:`LineWriter`): Powertools
prints each EMF object with ``print()``, which writes the object and its newline in two calls,
and the handler threads of a worker (and the workers of a stack) share one pipe.
"""

from __future__ import annotations

import io
import logging
import os
import sys
import threading
import time
from typing import Any, TextIO

#: ``text`` (default) or ``json``; set by ``pairchat dev`` for its worker processes.
MODE_ENV = "PAIRCHAT_DEV_LOGS"
#: Repeats of one event within this many seconds print as one line and a count.
FOLD_S = 10.0
#: Record fields never printed in readable lines.
HIDDEN_FIELDS = frozenset({"user_id", "partner_id", "connection_id", "token", "text"})
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
}
FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
DATEFMT = "%H:%M:%S"
#: Loggers that talk too much below WARNING.
_NOISY = ("botocore", "urllib3", "boto3", "asyncio")


def json_mode() -> bool:
    return os.environ.get(MODE_ENV, "text") == "json"


class LineWriter(io.TextIOBase):
    """A text stream that hands each complete line to ``target`` in one write.

    ``print(obj)`` writes ``obj`` and then its newline; with an unbuffered stdout
    (``PYTHONUNBUFFERED``, ``python -u``) those are two writes to the pipe, and two handler
    threads or workers printing EMF objects at once left ``{...}{...}`` on one line, which no
    log reader (nor a test of ``--json-logs --metrics``, under load) can parse. Text waits
    per thread until its newline; whole lines go out under a lock, one write each (a pipe keeps
    a write of up to 4 KiB whole, between processes too).
    """

    def __init__(self, target: TextIO) -> None:
        super().__init__()
        self.target = target
        self._lock = threading.Lock()
        self._pending = threading.local()

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        text = getattr(self._pending, "text", "") + s
        cut = text.rfind("\n") + 1
        self._pending.text = text[cut:]
        if cut:
            self._emit(text[:cut])
        return len(s)

    def flush(self) -> None:
        text = getattr(self._pending, "text", "")
        self._pending.text = ""
        self._emit(text)

    def _emit(self, text: str) -> None:
        with self._lock:
            if text:
                self.target.write(text)
            self.target.flush()

    def fileno(self) -> int:
        return self.target.fileno()

    def isatty(self) -> bool:
        return self.target.isatty()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self.target.encoding


def configure(level: int, json_logs: bool | None = None) -> None:
    """This process's stdlib logging (the gateway's and workers' own lines), on stderr; its
    stdout (the handlers' JSON and EMF lines) line by line (:class:`LineWriter`)."""
    if not isinstance(sys.stdout, LineWriter):
        sys.stdout = LineWriter(sys.stdout)
    if json_logs is not None:
        os.environ[MODE_ENV] = "json" if json_logs else "text"
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_ShortNames(FORMAT, DATEFMT))
    root.addHandler(handler)
    root.setLevel(level)
    for name in _NOISY:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))


class _ShortNames(logging.Formatter):
    """``pairchat_tools.local.gateway`` -> ``gateway``: the source without the package."""

    def format(self, record: logging.LogRecord) -> str:
        record.name = record.name.rsplit(".", 1)[-1]
        return super().format(record)


def adopt_handler_loggers(stream: TextIO | None = None) -> int:
    """Gives every Powertools logger a readable, folding handler (unless in JSON mode).

    Powertools keeps its formatter on its handler (``append_keys`` and the Lambda context go
    there), so the formatter object moves to the new handler unchanged; only the output differs.
    Returns how many loggers were adopted.
    """
    if json_mode():
        return 0
    adopted = 0
    for logger in list(logging.root.manager.loggerDict.values()):
        if not isinstance(logger, logging.Logger):
            continue
        old = getattr(logger, "powertools_handler", None)
        if old is None or isinstance(old, FoldingHandler) or old not in logger.handlers:
            continue
        new = FoldingHandler(stream or sys.stderr)
        new.setFormatter(old.formatter)  # type: ignore[arg-type]
        new.setLevel(old.level)
        for f in old.filters:
            new.addFilter(f)
        logger.handlers[logger.handlers.index(old)] = new
        logger.powertools_handler = new  # type: ignore[attr-defined]
        adopted += 1
    return adopted


def fields(record: logging.LogRecord) -> dict[str, Any]:
    """The ``extra=`` fields of a record that a readable line shows."""
    return {
        k: v
        for k, v in record.__dict__.items()
        if k not in _STANDARD and k not in HIDDEN_FIELDS and not k.startswith("_")
    }


def readable(record: logging.LogRecord, repeats: int = 0, over_s: float = 0.0) -> str:
    when = time.strftime(DATEFMT, time.localtime(record.created))
    extra = " ".join(f"{k}={v}" for k, v in sorted(fields(record).items()))
    line = f"{when} {record.levelname:<7} lambda: {record.getMessage()}"
    if extra:
        line += f" {extra}"
    if repeats:
        line += f" (x{repeats} more in {over_s:.0f} s)"
    return line


class FoldingHandler(logging.Handler):
    """Writes readable lines; an event that repeats within :data:`FOLD_S` prints once, and the
    repeats as one count line when the window closes (a background thread closes windows)."""

    #: Distinct events tracked at once; past it, the oldest windows are closed early.
    MAX_KEYS = 500

    def __init__(self, stream: TextIO, fold_s: float = FOLD_S) -> None:
        super().__init__()
        self.stream = stream
        self.fold_s = fold_s
        #: event key -> [window start (monotonic), repeats since, last record]
        self._windows: dict[tuple[Any, ...], list[Any]] = {}
        self._guard = threading.Lock()
        self._flusher: threading.Thread | None = None

    @staticmethod
    def key(record: logging.LogRecord) -> tuple[Any, ...]:
        exc = record.exc_info[0].__name__ if record.exc_info and record.exc_info[0] else None
        extra = tuple(sorted((k, repr(v)) for k, v in fields(record).items()))
        return (record.levelno, record.getMessage(), exc, extra)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            key = self.key(record)
            now = time.monotonic()
            closed: list[str] = []
            with self._guard:
                window = self._windows.get(key)
                if window is not None:
                    window[1] += 1
                    window[2] = record
                    return
                if len(self._windows) >= self.MAX_KEYS:
                    closed = self._close(now, force=True)
                self._windows[key] = [now, 0, record]
                self._start_flusher()
            for line in closed:
                self._write(line)
            self._write(readable(record), record)
        except Exception:
            self.handleError(record)

    def _write(self, line: str, record: logging.LogRecord | None = None) -> None:
        if record is not None and record.exc_info:
            line += "\n" + logging.Formatter().formatException(record.exc_info)
        with self.lock or threading.Lock():
            self.stream.write(line + "\n")
            self.stream.flush()

    def _start_flusher(self) -> None:
        if self._flusher is None:
            self._flusher = threading.Thread(target=self._run, name="log-fold", daemon=True)
            self._flusher.start()

    def _run(self) -> None:
        while True:
            time.sleep(min(1.0, self.fold_s / 4))
            self.flush_folded()

    def flush_folded(self, force: bool = False) -> None:
        """Prints the count line of every window that has closed (all of them with force)."""
        with self._guard:
            lines = self._close(time.monotonic(), force)
        for line in lines:
            self._write(line)

    def _close(self, now: float, force: bool) -> list[str]:
        lines: list[str] = []
        for key, (start, repeats, record) in list(self._windows.items()):
            if force or now - start >= self.fold_s:
                del self._windows[key]
                if repeats:
                    lines.append(readable(record, repeats, min(now - start, self.fold_s)))
        return lines

    def close(self) -> None:
        self.flush_folded(force=True)
        super().close()
