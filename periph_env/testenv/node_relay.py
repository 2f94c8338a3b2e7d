"""A TCP relay: the apiserver's advertised address (node IP) forwarded to its loopback port.

kwokctl binds the apiserver to 127.0.0.1, which pods cannot reach, while the `kubernetes`
Service's endpoint is the advertised address. Run as
``python -m periph_env.testenv.node_relay LISTEN_HOST LISTEN_PORT TARGET_HOST TARGET_PORT``;
TLS passes through untouched (the apiserver certificate names the node IP).
"""

from __future__ import annotations

import asyncio
import sys


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def serve(listen: tuple[str, int], target: tuple[str, int]) -> None:
    """Accept connections on ``listen`` and splice each one to a new connection to ``target``."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*target)
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    server = await asyncio.start_server(handle, *listen, reuse_address=True)
    async with server:
        await server.serve_forever()


def main(argv: list[str]) -> int:
    """Entry point: LISTEN_HOST LISTEN_PORT TARGET_HOST TARGET_PORT."""
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    asyncio.run(serve((argv[0], int(argv[1])), (argv[2], int(argv[3]))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
