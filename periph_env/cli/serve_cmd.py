"""``periph serve [--port N]``: the TUI in a browser tab, through textual-serve.

The app can deploy to prod, so the server listens on 127.0.0.1 only (there is no option
to listen elsewhere: use SSH port forwarding from another machine) and every request
needs a random token, printed at start as Jupyter does. The page loads only what the
textual-serve wheel ships (xterm.js): our template drops its external font link.
"""

from __future__ import annotations

import argparse
import hmac
import secrets
import shlex
import sys
from pathlib import Path
from typing import Any

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

        async def on_startup(self, app: web.Application) -> None:
            url = f"http://{HOST}:{self.port}/?token={token}"
            print(f"periph serve: the TUI of {root} at\n\n    {url}\n", flush=True)
            print(
                f"From another machine: ssh -L {self.port}:127.0.0.1:{self.port} <this host>, "
                "then open the URL above. Ctrl+C stops.",
                flush=True,
            )

    return TokenServer(
        app_command(root),
        host=HOST,
        port=port,
        title="periph",
        templates_path=TEMPLATES,
    )


def run_serve(args: argparse.Namespace) -> int:
    """Serve until Ctrl+C; exit 2 for a bad port, 1 when the port is taken."""
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
    token = secrets.token_urlsafe(24)
    server = make_server(project_root(), args.port, token)
    try:
        server.serve()
    except OSError as exc:
        print(f"periph serve: cannot listen on {HOST}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 1
    return 0
