"""pairchat_tools.local.logs.LineWriter: every line reaches the pipe whole, whatever prints it."""

from __future__ import annotations

import io
import threading

from pairchat_tools.local.logs import LineWriter


class Recording(io.StringIO):
    """A target that keeps every write it is handed, as separate calls."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []

    def write(self, s: str) -> int:
        self.writes.append(s)
        return len(s)


def test_print_reaches_the_target_as_one_write_per_line() -> None:
    """print() writes the object, then the newline: on an unbuffered stdout, two writes."""
    target = Recording()
    out = LineWriter(target)
    print('{"_aws":{}}', file=out)
    print("a\nb", "c", sep="", file=out)
    assert target.writes == ['{"_aws":{}}\n', "a\n", "bc\n"]


def test_another_threads_line_never_lands_inside_a_pending_one() -> None:
    target = Recording()
    out = LineWriter(target)
    out.write('{"one":')  # this thread's line is not finished yet
    other = threading.Thread(target=print, args=('{"two":2}',), kwargs={"file": out})
    other.start()
    other.join()
    out.write("1}\n")
    assert target.writes == ['{"two":2}\n', '{"one":1}\n']


def test_flush_writes_an_unfinished_line() -> None:
    target = Recording()
    out = LineWriter(target)
    out.write("no newline")
    assert target.writes == []
    out.flush()
    assert target.writes == ["no newline"]
