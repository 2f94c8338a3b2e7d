"""The Engine API's log stream, bytes to ``LogLine``s, in large pieces (pure: no engine).

``GET /containers/{id}/logs`` sends, for a container without a TTY, frames of an 8-byte
header (stream id: 1 stdout, 2 stderr; three zero bytes; a big-endian payload length)
and the payload; with a TTY it sends the raw bytes, no headers. Frames may be split
anywhere across reads (a header too), and a line may span frames (the engine splits
lines over 16 KiB). With ``timestamps=1`` every line starts ``<RFC 3339 time> ``.

Why it is shaped this way: at 100,000 lines/s Python has ~10 µs per line for everything,
so nothing here runs a Python step per line that can run once per read instead. A read
of up to 256 KiB is demultiplexed with one ``unpack_from`` per frame into one byte run
per stream; each run is decoded, masked (``redact``) and split once; then each line only
has its timestamp read (seconds cached, the fraction as integer nanoseconds: a float
of epoch seconds cannot tell apart stamps ~240 ns apart, and the merge orders by it) and
becomes a ``LogLine``. Text that masking or control-character escaping would change takes the
careful path (line by line, exactly as ``redact`` prints one line), so the fast path
never decides what is safe to show.
"""

from __future__ import annotations

import contextlib
import struct
from collections.abc import Iterable
from datetime import datetime

from periph_env.common.redact import redact
from periph_env.stack.models import LogLine
from periph_env.stack.status_parse import parse_time

_HEADER = struct.Struct(">BxxxL")
_STREAMS = {1: "stdout", 2: "stderr"}
# Text made only of printable ASCII and newlines: masking aside, redact leaves it as it is
# (no control character, no colour, no \r, no tab to escape), so a whole run can be
# checked in one search instead of escaping line by line.
_PLAIN_BYTES = bytes([10, *range(0x20, 0x7F)])
_SECOND_CACHE = 4096  # distinct seconds remembered (a long follow never grows past it)


class FrameDemux:
    """Engine log bytes → one byte run per stream; keeps an incomplete frame for the
    next ``feed``. A TTY container's stream has no frames: all of it is stdout.

    A line over 16 KiB reaches the engine's log as partial messages, and each is sent
    as a frame of its own, with its own timestamp when timestamps are asked for: a frame
    that continues a line (the stream's previous frame did not end with a newline) has
    that repeated ``<time> `` dropped here, so the line reads as it was written."""

    def __init__(self, tty: bool = False, stamped: bool = True) -> None:
        self.tty = tty
        self.stamped = stamped
        self._buffer = bytearray()
        self._open = {1: False, 2: False}  # the stream's last frame ended mid-line

    def feed(self, data: bytes) -> dict[int, bytes]:
        """The payload bytes completed by ``data``, per stream id (1 stdout, 2 stderr;
        stdin, never sent, would count as stdout)."""
        if self.tty:
            return {1: data} if data else {}
        buffer = self._buffer
        buffer += data
        parts: dict[int, list[bytes]] = {1: [], 2: []}
        is_open = self._open
        unpack = _HEADER.unpack_from
        pos, end = 0, len(buffer)
        while end - pos >= 8:
            stream, length = unpack(buffer, pos)
            stop = pos + 8 + length
            if stop > end:
                break  # the rest of this frame comes with the next read
            stream = 2 if stream == 2 else 1
            start = pos + 8
            if is_open[stream] and self.stamped:
                start = buffer.find(b" ", start, stop) + 1 or start
            if length:
                parts[stream].append(buffer[start:stop])
                is_open[stream] = buffer[stop - 1] != 10
            pos = stop
        if pos:
            del buffer[:pos]
        return {stream: b"".join(runs) for stream, runs in parts.items() if runs}

    @property
    def pending(self) -> int:
        """Bytes of an incomplete frame held back."""
        return len(self._buffer)


class LineCutter:
    """One stream's bytes → ``LogLine``s; a line not yet ended waits for the next run (as
    bytes, so a character split across reads decodes whole)."""

    def __init__(self, service: str, container_id: str, stream: str = "stdout") -> None:
        self.service, self.container_id, self.stream = service, container_id, stream
        self._pending = b""

    def feed(self, data: bytes, secrets: Iterable[str] = ()) -> list[LogLine]:
        """The lines ``data`` completes, masked and with control characters escaped."""
        data = self._pending + data if self._pending else data
        cut = data.rfind(b"\n")
        if cut < 0:
            self._pending = data
            return []
        self._pending = data[cut + 1 :]
        return self._lines(data[:cut], secrets)

    def flush(self, secrets: Iterable[str] = ()) -> list[LogLine]:
        """A last line without a newline, if any."""
        rest, self._pending = self._pending, b""
        return self._lines(rest, secrets) if rest else []

    def _lines(self, data: bytes, secrets: Iterable[str]) -> list[LogLine]:
        # Printable ASCII and newlines only (one C pass: delete those bytes, is anything
        # left?): nothing to escape. Masking cannot reach across lines into a timestamp
        # unless it changed something: only then, or with characters to escape, is the
        # run handled line by line.
        if not data.translate(None, _PLAIN_BYTES):
            text = data.decode("ascii")
            if redact(text, secrets, keep_lines=True, colors="drop") == text:
                with contextlib.suppress(ValueError, IndexError):  # malformed: the careful way
                    return self._plain(text.split("\n"))
        else:
            text = data.decode(errors="replace")
        return self._careful(text.split("\n"), secrets)

    def _plain(self, raws: list[str]) -> list[LogLine]:
        service, container_id, stream = self.service, self.container_id, self.stream
        seconds = _seconds
        scale = _SCALE
        out = []
        append = out.append
        for raw in raws:
            stamp_text, _, text = raw.partition(" ")
            # The common shape inline (a call per line is a visible share of the time):
            # a remembered second, then ".fraction" (1-9 digits) and "Z".
            base = seconds.get(stamp_text[:19])
            if base is not None and stamp_text[19:20] == "." and stamp_text[-1:] == "Z":
                fraction = stamp_text[20:-1]
                ns = base + int(fraction) * scale[len(fraction)]
            else:
                stamp = stamp_ns(stamp_text)
                if stamp is None:
                    continue
                ns = stamp
            append(LogLine(service, ns / 1e9, text, stream, container_id, ns))
        return out

    def _careful(self, raws: list[str], secrets: Iterable[str]) -> list[LogLine]:
        secrets = list(secrets)
        out = []
        for raw in raws:
            stamp_text, _, text = raw.partition(" ")
            ns = stamp_ns(stamp_text)
            if ns is None:
                continue
            shown = redact(text.rstrip("\r"), secrets, keep_lines=False, colors="drop")
            out.append(LogLine(self.service, ns / 1e9, shown, self.stream, self.container_id, ns))
        return out


_seconds: dict[str, int] = {}  # "2026-11-27T06:10:09" -> its epoch second in nanoseconds
_SCALE = [10 ** (9 - digits) for digits in range(10)]  # a fraction of n digits, in ns


def stamp_ns(text: str) -> int | None:
    """An engine log timestamp (``2026-11-27T06:10:09.123456789Z``, trailing zeros of
    the fraction dropped) as integer epoch nanoseconds, exactly; None when it is not one.
    The whole second is computed once and remembered: lines of one second share it."""
    if len(text) < 20 or text[-1] != "Z" or text[19] not in ".Z":
        seconds = parse_time(text)  # another zone or shape: the general parser
        return None if seconds is None else round(seconds * 1e9)
    whole = text[:19]
    base = _seconds.get(whole)
    if base is None:
        try:
            base = int(datetime.fromisoformat(whole + "+00:00").timestamp()) * 1_000_000_000
        except ValueError:
            return None
        if len(_seconds) >= _SECOND_CACHE:
            _seconds.clear()
        _seconds[whole] = base
    fraction = text[20:-1]
    if not fraction:
        return base
    if len(fraction) > 9 or not fraction.isdigit():
        return None
    return base + int(fraction) * _SCALE[len(fraction)]


def stamp_seconds(text: str) -> float | None:
    """``stamp_ns`` as float epoch seconds (for display; order by ``stamp_ns``)."""
    ns = stamp_ns(text)
    return None if ns is None else ns / 1e9


class StreamReader:
    """A whole logs response: demultiplexed, cut into lines, masked."""

    def __init__(self, service: str, container_id: str, tty: bool = False) -> None:
        self.demux = FrameDemux(tty)
        self.cutters = {n: LineCutter(service, container_id, s) for n, s in _STREAMS.items()}

    def feed(self, data: bytes, secrets: Iterable[str] = ()) -> list[LogLine]:
        """The lines completed by ``data`` (stdout's, then stderr's: each in order)."""
        runs = self.demux.feed(data)
        if len(runs) == 1:
            ((stream, run),) = runs.items()
            return self.cutters[stream].feed(run, secrets)
        lines: list[LogLine] = []
        for stream, run in runs.items():
            lines.extend(self.cutters[stream].feed(run, secrets))
        return lines

    def flush(self, secrets: Iterable[str] = ()) -> list[LogLine]:
        """Lines left without a newline when the stream ended."""
        return [line for cutter in self.cutters.values() for line in cutter.flush(secrets)]
