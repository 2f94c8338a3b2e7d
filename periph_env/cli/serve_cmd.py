"""``periph serve [--port N]``: the TUI in a browser tab, through textual-serve.

The app can deploy to prod, so the server listens on 127.0.0.1 only (there is no option
to listen elsewhere: use SSH port forwarding from another machine) and every request
needs a random token, printed at start as Jupyter does. The page loads only what the
textual-serve wheel ships (xterm.js): our template drops its external font link.

The URL (with its token) is printed only once the socket listens: a port that is taken
fails first, with ``port N is in use by pid 1234 (python3)`` and exit 1, and never
after a URL that leads nowhere (or to whatever holds the port).
"""

from __future__ import annotations

import argparse
import errno
import hmac
import secrets
import shlex
import sys
from pathlib import Path
from typing import Any

from periph_env.errors import EngineError

HOST = "127.0.0.1"
DEFAULT_PORT = 8765
COOKIE = "periph_serve_token"
TEMPLATES = Path(__file__).resolve().parents[1] / "tui" / "serve" / "templates"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``periph serve``."""
    serve = subparsers.add_parser(
        "serve",
        help="serve the TUI in a browser on 127.0.0.1 (token in the URL)",
        description=(
            "Serve the periph TUI on 127.0.0.1 only, guarded by a random token printed at "
            "start. From another machine: ssh -L PORT:127.0.0.1:PORT host, then open the URL."
        ),
    )
    serve.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})"
    )
    serve.set_defaults(handler=run_serve)


def app_command(root: Path) -> str:
    """The shell command textual-serve runs per browser session: the TUI over ``root``."""
    code = (
        "import sys; from pathlib import Path; from periph_env.tui import run; "
        f"sys.exit(run(Path({str(root)!r})))"
    )
    return f"{shlex.quote(sys.executable)} -c {shlex.quote(code)}"


def token_ok(token: str, query: dict[str, str], cookies: dict[str, str]) -> bool:
    """True when the request carries the token (query ``?token=`` or the session cookie)."""
    for given in (query.get("token", ""), cookies.get(COOKIE, "")):
        if given and hmac.compare_digest(given.encode(), token.encode()):
            return True
    return False


def make_server(root: Path, port: int, token: str) -> Any:
    """A textual-serve ``Server`` for the TUI, bound to 127.0.0.1 and token-guarded."""
    from aiohttp import web
    from textual_serve.server import Server

    class TokenServer(Server):
        """Refuses (403) any request without the token; the index sets it as a cookie so
        the page's own requests (static files, the websocket) carry it."""

        async def _make_app(self) -> web.Application:
            app = await super()._make_app()

            @web.middleware
            async def require_token(request: web.Request, handler: Any) -> web.StreamResponse:
                if not token_ok(token, dict(request.query), dict(request.cookies)):
                    return web.Response(status=403, text="periph serve: token required\n")
                response = await handler(request)
                if request.path == "/" and "token" in request.query:
                    response.set_cookie(COOKIE, token, httponly=True, samesite="Strict")
                return response

            app.middlewares.append(require_token)
            return app

        def announce(self, *_aiohttp_banner: object) -> None:
            """Print the URL; aiohttp calls this once every site listens."""
            url = f"http://{HOST}:{self.port}/?token={token}"
            print(f"periph serve: the TUI of {root} at\n\n    {url}\n", flush=True)
            print(
                f"From another machine: ssh -L {self.port}:127.0.0.1:{self.port} <this host>, "
                "then open the URL above. Ctrl+C stops.",
                flush=True,
            )

        def serve(self, debug: bool = False) -> None:
            """textual-serve's ``Server.serve`` (1.1.3), with the URL printed by aiohttp's
            after-listen hook instead of ``on_startup`` (which runs before the bind)."""
            import asyncio
            import contextlib
            import signal

            self.debug = debug
            self.initialize_logging()
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(signal.SIGINT, self.request_exit)
                loop.add_signal_handler(signal.SIGTERM, self.request_exit)
            web.run_app(
                self._make_app(),
                host=self.host,
                port=self.port,
                handle_signals=False,
                loop=loop,
                print=self.announce,
            )

    return TokenServer(
        app_command(root),
        host=HOST,
        port=port,
        title="periph",
        templates_path=TEMPLATES,
    )


def run_serve(args: argparse.Namespace) -> int:
    """Serve until Ctrl+C; exit 2 for a bad port, 1 when the port is taken (said before
    any URL is printed)."""
    from periph_env.errors import UsageError
    from periph_env.tui import project_root

    if not 1 <= args.port <= 65535:
        raise UsageError(f"--port {args.port}: not a port number (1-65535)")
    try:
        import textual_serve  # noqa: F401
    except ImportError as exc:
        raise UsageError(
            "periph serve needs textual-serve", hint="pip install textual-serve==1.1.3"
        ) from exc
    taken = in_use(args.port)
    if taken:
        raise taken
    token = secrets.token_urlsafe(24)
    server = make_server(project_root(), args.port, token)
    try:
        server.serve()
    except OSError as exc:
        # Taken between the check and the bind: the same message, still before any URL.
        error = in_use(args.port, taken=True) if exc.errno == errno.EADDRINUSE else None
        raise error or EngineError(f"cannot listen on {HOST}:{args.port}: {exc.strerror}") from None
    return 0


def in_use(port: int, taken: bool = False) -> EngineError | None:
    """A ``PortInUse`` (exit 1) naming the holder when ``127.0.0.1:port`` is taken."""
    from periph_env.stack.errors import PortInUse
    from periph_env.stack.ports import holder, port_taken

    if not (taken or port_taken(HOST, port)):
        return None
    who = holder(port)
    return PortInUse(
        f"port {port} is in use by {who or 'another process (not visible to this user)'}",
        hint=f"stop it, or serve elsewhere: periph serve --port {port + 1}",
    )
