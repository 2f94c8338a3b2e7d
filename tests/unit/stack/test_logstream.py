"""The Engine API's log stream read in large pieces (``periph_env.stack.logstream``): how
bytes become lines, whatever the reads' boundaries. The same against the real engine is
in tests/integration/test_log_stream_engine.py."""

from __future__ import annotations

import struct
from datetime import UTC, datetime

import pytest

from periph_env.common.redact import MASK, redact
from periph_env.stack.engine_streams import dechunk, pumped
from periph_env.stack.logstream import FrameDemux, StreamReader, stamp_ns, stamp_seconds

T = "2026-11-27T06:10:09.123456789Z"


def frame(stream: int, payload: bytes) -> bytes:
    return struct.pack(">BxxxL", stream, len(payload)) + payload


def line(text: str, stamp: str = T) -> bytes:
    return f"{stamp} {text}\n".encode()


def read_all(data: bytes, reads: list[int], tty: bool = False, secrets=()) -> list:
    """Feed ``data`` to a reader cut at ``reads`` (offsets); every line it gives."""
    reader = StreamReader("api", "c1", tty)
    out, start = [], 0
    for end in [*reads, len(data)]:
        out += reader.feed(data[start:end], secrets)
        start = end
    return out + reader.flush(secrets)


def texts(lines) -> list[tuple[str, str]]:
    return [(ln.stream, ln.text) for ln in lines]


STREAM = frame(1, line("one")) + frame(2, line("two")) + frame(1, line("three four"))


@pytest.mark.parametrize("cut", range(1, len(STREAM)))
def test_a_frame_split_anywhere_across_two_reads_gives_the_same_lines(cut):
    assert sorted(texts(read_all(STREAM, [cut]))) == sorted(texts(read_all(STREAM, [])))


def test_a_stream_read_one_byte_at_a_time_gives_every_line_once():
    lines = read_all(STREAM, list(range(1, len(STREAM))))
    assert sorted(texts(lines)) == [("stderr", "two"), ("stdout", "one"), ("stdout", "three four")]


def test_each_line_keeps_the_stream_its_frame_header_names():
    lines = read_all(frame(2, line("oops")) + frame(1, line("fine")), [])
    assert {ln.text: ln.stream for ln in lines} == {"oops": "stderr", "fine": "stdout"}


def test_a_line_the_engine_split_over_several_frames_is_one_line():
    # The engine sends a line over 16 KiB as partial messages, each its own frame with
    # its own timestamp; only the last ends with a newline.
    long = "x" * 40_000
    pieces = [long[i : i + 16_384] for i in range(0, len(long), 16_384)]
    frames = b"".join(frame(1, f"{T} {p}".encode()) for p in pieces[:-1])
    frames += frame(1, line(pieces[-1])) + frame(1, line("next"))
    assert texts(read_all(frames, [10_000, 30_000])) == [("stdout", long), ("stdout", "next")]


def test_partial_lines_of_stdout_and_stderr_interleaved_are_each_whole():
    frames = frame(1, f"{T} out-a".encode()) + frame(2, f"{T} err-a".encode())
    frames += frame(1, line("out-b")) + frame(2, line("err-b"))
    assert sorted(texts(read_all(frames, []))) == [
        ("stderr", "err-aerr-b"),
        ("stdout", "out-aout-b"),
    ]


def test_a_tty_containers_raw_stream_has_no_headers_and_is_stdout():
    data = line("prompt> ls") + line("done")
    lines = read_all(data, [7], tty=True)
    assert texts(lines) == [("stdout", "prompt> ls"), ("stdout", "done")]


def test_a_tty_line_ending_in_crlf_is_shown_without_the_cr():
    assert texts(read_all(f"{T} hello\r\n".encode(), [], tty=True)) == [("stdout", "hello")]


def test_a_character_split_across_reads_decodes_whole():
    data = frame(1, line("café ☕"))
    cut = data.index("☕".encode()) + 1
    assert texts(read_all(data, [cut])) == [("stdout", "café ☕")]


def test_a_last_line_without_a_newline_comes_when_the_stream_ends():
    assert texts(read_all(frame(1, f"{T} bye".encode()), [])) == [("stdout", "bye")]


def test_an_incomplete_frame_is_held_until_its_rest_arrives():
    demux = FrameDemux()
    data = frame(1, b"abc\n")
    assert demux.feed(data[:5]) == {}
    assert demux.pending == 5
    assert demux.feed(data[5:]) == {1: b"abc\n"}


def test_a_secret_in_a_line_is_masked_like_every_other_printer_masks_it():
    secret = "hunter2-very-secret"
    lines = read_all(frame(1, line(f"password={secret}") + line("plain")), [], secrets=[secret])
    assert [ln.text for ln in lines] == [f"password={MASK}", "plain"]


def test_a_secret_that_looks_like_a_timestamp_does_not_lose_lines():
    lines = read_all(frame(1, line("a") + line("b")), [], secrets=["2026-11-27"])
    assert [ln.text for ln in lines] == ["a", "b"]


def test_control_characters_and_colours_read_as_a_line_printer_shows_them():
    raw = "\x1b[31mred\x1b[0m bell\x07 tab\there"
    lines = read_all(frame(1, line(raw)), [])
    assert [ln.text for ln in lines] == [redact(raw, keep_lines=False, colors="drop")]
    assert "\x07" not in lines[0].text and "\x1b" not in lines[0].text


def test_a_line_without_a_timestamp_is_left_out_and_the_rest_kept():
    lines = read_all(frame(1, b"garbage\n" + line("ok")), [])
    assert [ln.text for ln in lines] == ["ok"]


@pytest.mark.parametrize(
    "stamp",
    [
        "2026-11-27T06:10:09.123456789Z",
        "2026-11-27T06:10:09.5Z",  # the engine drops a fraction's trailing zeros
        "2026-11-27T06:10:09Z",  # and the fraction when it is zero
        "2026-11-27T07:10:09.25+01:00",  # another zone: the general parser
    ],
)
def test_a_timestamp_reads_as_the_same_instant_in_every_shape_the_engine_writes(stamp):
    base = datetime(2026, 11, 27, 6, 10, 9, tzinfo=UTC).timestamp()
    fraction = float("0." + stamp[20:].rstrip("Z").split("+")[0]) if stamp[19] == "." else 0.0
    assert stamp_seconds(stamp) == pytest.approx(base + fraction, abs=1e-6)
    [read] = read_all(frame(1, line("x", stamp)), [])
    assert read.timestamp == pytest.approx(base + fraction, abs=1e-6)


SECOND_NS = int(datetime(2026, 11, 27, 6, 10, 9, tzinfo=UTC).timestamp()) * 1_000_000_000


@pytest.mark.parametrize(
    ("stamp", "fraction_ns"),
    [
        ("2026-11-27T06:10:09.123456789Z", 123456789),
        ("2026-11-27T06:10:09.000000001Z", 1),
        ("2026-11-27T06:10:09.5Z", 500000000),
        ("2026-11-27T06:10:09Z", 0),
    ],
)
def test_a_timestamp_reads_as_its_exact_nanosecond(stamp, fraction_ns):
    assert stamp_ns(stamp) == SECOND_NS + fraction_ns
    [read] = read_all(frame(1, line("x", stamp)), [])
    assert read.ns == SECOND_NS + fraction_ns


@pytest.mark.parametrize("stamp", ["2026-11-27T06:10:09.1234567890Z", "2026-11-27T06:10:09.1x3Z"])
def test_a_fraction_that_is_not_nine_digits_at_most_is_no_timestamp(stamp):
    assert stamp_ns(stamp) is None
    lines = read_all(frame(1, line("bad", stamp) + line("ok")), [])
    assert [ln.text for ln in lines] == ["ok"]


def test_stamps_a_few_nanoseconds_apart_keep_their_order_where_floats_tie():
    # At today's epoch a float holds ~240 ns: these three stamps are one float, and a
    # merge ordered by it would keep whatever order the reads came in.
    stamps = [f"2026-11-27T06:10:09.1234567{n:02d}Z" for n in (3, 1, 2)]
    reads = [read_all(frame(1, line(str(i), stamp)), []) for i, stamp in enumerate(stamps)]
    lines = [ln for read in reads for ln in read]
    assert len({ln.timestamp for ln in lines}) == 1
    assert [ln.text for ln in sorted(lines, key=lambda ln: ln.ns)] == ["1", "2", "0"]


def test_http_chunked_coding_is_undone_across_reads():
    body = b"".join(f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in (b"abc", b"defgh"))
    body += b"0\r\n\r\n"
    reads = [body[i : i + 4] for i in range(0, len(body), 4)]
    assert b"".join(dechunk(iter(reads))) == b"abcdefgh"


def test_pumped_reads_hand_out_every_byte_in_order():
    parts = [bytes([i]) * 100 for i in range(50)]
    assert b"".join(pumped(iter(parts), "test-pump", depth=4)) == b"".join(parts)


def test_pumped_reads_raise_the_reads_error_after_what_came_before():
    def reads():
        yield b"first"
        raise ConnectionResetError("engine went away")

    got = []
    with pytest.raises(ConnectionResetError, match="engine went away"):
        for chunk in pumped(reads(), "test-pump"):
            got.append(chunk)
    assert b"".join(got) == b"first"


def test_a_cursor_asks_the_engine_from_its_exact_nanosecond():
    from periph_env.stack.engine_streams import log_params

    since = log_params(True, 1.5, None, since_ns=SECOND_NS + 1)["since"]
    assert since == f"{SECOND_NS // 1_000_000_000}.000000001"
