"""The relay that makes the apiserver's loopback port answer at the node IP (on loopback here)."""

from __future__ import annotations

import asyncio
import socket

from periph_env.testenv import node_relay


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def exchange(target_port: int, relay_port: int, payload: bytes) -> bytes:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"echo:" + await reader.read(1024))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", target_port)
    relay = asyncio.create_task(
        node_relay.serve(("127.0.0.1", relay_port), ("127.0.0.1", target_port))
    )
    try:
        for _ in range(50):
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", relay_port)
                break
            except OSError:
                await asyncio.sleep(0.02)
        writer.write(payload)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 5)
        writer.close()
        return answer
    finally:
        relay.cancel()
        server.close()


def test_relay_passes_bytes_both_ways_unchanged():
    payload = bytes(range(256))

    answer = asyncio.run(exchange(free_port(), free_port(), payload))

    assert answer == b"echo:" + payload


def test_relay_refuses_a_wrong_command_line_with_usage():
    assert node_relay.main(["10.0.0.1"]) == 2
