"""Progress of long sampling, on stderr (stdout stays for results: text, file names).

On a terminal the bar is redrawn in place; elsewhere (a pipe, a log file, CI) it writes plain
lines, one per tenth of the work and one at the end, with no carriage returns or colour codes.
"""

import contextlib
import sys
import time

_listeners = []


@contextlib.contextmanager
def listen(callback):
    """Calls `callback(done, total, label)` on every update of a bar made inside the block
    (the demo page shows sampling progress this way)."""
    _listeners.append(callback)
    try:
        yield
    finally:
        _listeners.remove(callback)


class Progress:
    def __init__(self, total, unit="step", label="sampling", stream=None, width=30):
        self.total, self.unit, self.label, self.width = max(int(total), 1), unit, label, width
        self.stream = sys.stderr if stream is None else stream
        self.done, self.start, self._next_line = 0, time.perf_counter(), 0.1
        isatty = getattr(self.stream, "isatty", None)
        self.terminal = bool(isatty and isatty())

    def _text(self):
        elapsed = time.perf_counter() - self.start
        rate = self.done / elapsed if elapsed > 0 else 0.0
        return (f"{self.label}: {self.done}/{self.total} {self.unit}s ({100 * self.done / self.total:.0f}%), "
                f"{elapsed:.1f} s, {rate:.1f} {self.unit}s/s")

    def add(self, n=1):
        self.done = min(self.done + int(n), self.total)
        for callback in list(_listeners):
            callback(self.done, self.total, self.label)
        if self.terminal:
            filled = int(self.width * self.done / self.total)
            self.stream.write(f"\r[{'#' * filled}{'.' * (self.width - filled)}] {self._text()}")
            if self.done == self.total:
                self.stream.write("\n")
            self.stream.flush()
        elif self.done / self.total >= self._next_line or self.done == self.total:
            while self._next_line <= self.done / self.total:
                self._next_line += 0.1
            self.stream.write(self._text() + "\n")
            self.stream.flush()
