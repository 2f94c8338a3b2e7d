"""The SvelteKit frontend: type check, unit tests, prod build and the built server.

Runs the frontend's own tooling (svelte-check, vitest, vite build, ``node build``) from the
pytest suite. Node and npm are part of every machine, so nothing here is skipped.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

# Minutes of Node tooling: its own tier, not the unit tier run on every save.
pytestmark = pytest.mark.frontend

FRONTEND = Path(__file__).resolve().parents[3] / "services" / "frontend"
# Values that must never reach the browser bundle, whatever their prefix.
CANARIES = {
    "JWT_SECRET": "canary-jwt-4f9c1e",
    "DB_PASSWORD": "canary-db-8a2d77",
    "VITE_SECRET_TOKEN": "canary-vite-secret-31b0",
}


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Runs a command in the frontend folder; fails the test with its output on error."""
    result = subprocess.run(
        args,
        cwd=FRONTEND,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        command = " ".join(args)
        pytest.fail(f"{command} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(scope="module")
def installed() -> Path:
    """node_modules matching package-lock.json (``npm ci`` when missing or stale)."""
    if shutil.which("npm") is None:
        pytest.fail("npm is not on PATH; the frontend tests need Node 20 and npm")
    marker = FRONTEND / "node_modules" / ".package-lock.json"
    lock = FRONTEND / "package-lock.json"
    if not marker.exists() or marker.stat().st_mtime < lock.stat().st_mtime:
        _run("npm", "ci", "--no-audit", "--no-fund")
    return FRONTEND


@pytest.fixture(scope="module")
def built(installed: Path) -> Path:
    """A production build made with secret-looking values in the environment."""
    _run("npm", "run", "build", env=CANARIES)
    return installed / "build"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.fixture(scope="module")
def prod_server(built: Path) -> Iterator[str]:
    """``node build`` on a free loopback port, as the prod image runs it."""
    port = _free_port()
    env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(port), "VITE_ENVIRONMENT": "staging"}
    env.update({"NODE_ENV": "production", **CANARIES})
    proc = subprocess.Popen(
        ["node", "build"], cwd=FRONTEND, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            if proc.poll() is not None:
                pytest.fail(f"node build exited {proc.returncode}: {proc.stdout.read()!r}")
            try:
                _get(f"{base}/healthz")
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("node build did not accept connections")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_svelte_check_reports_no_errors_or_warnings(installed: Path) -> None:
    result = _run("npm", "run", "check")
    assert "0 errors and 0 warnings" in result.stdout


def test_vitest_unit_tests_pass(installed: Path) -> None:
    result = _run("npx", "vitest", "run", "--reporter=dot")
    assert " passed" in result.stdout


def test_client_bundle_contains_no_secret_from_the_build_environment(built: Path) -> None:
    leaked = [
        f"{name} in {path.relative_to(built)}"
        for path in (built / "client").rglob("*")
        if path.is_file()
        for name, value in CANARIES.items()
        if value in path.read_text(errors="ignore")
    ]
    assert leaked == []


def test_built_server_answers_healthz(prod_server: str) -> None:
    assert _get(f"{prod_server}/healthz") == (200, '{"status":"ok"}')


def test_built_server_renders_the_status_page_with_its_environment(prod_server: str) -> None:
    status, html = _get(f"{prod_server}/")
    assert status == 200
    assert 'data-testid="environment">staging<' in html
    assert "Service health" in html


def test_rendered_page_carries_no_server_secret(prod_server: str) -> None:
    _, html = _get(f"{prod_server}/")
    assert [name for name, value in CANARIES.items() if value in html] == []


def test_prod_image_ships_only_build_output_and_runs_unprivileged() -> None:
    dockerfile = (FRONTEND / "Dockerfile.prod").read_text()
    runtime = dockerfile.split("AS runtime", 1)[1]
    assert "NODE_ENV=production" in runtime
    assert "USER 10001:10001" in runtime
    assert "COPY . ." not in runtime


def test_dockerignore_keeps_env_files_at_any_depth_and_build_outputs_out(tmp_path: Path) -> None:
    from docker.utils.build import exclude_paths

    sent = ["src/app.html", ".env.example", "src/lib/.env.example"]
    kept_out = [".env", ".env.local", "src/.env", "src/lib/.env.prod", "prod.env", "src/x.env"]
    kept_out += ["node_modules/x/index.js", ".svelte-kit/out.js", "build/index.js"]
    for name in sent + kept_out:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    patterns = (FRONTEND / ".dockerignore").read_text().splitlines()
    patterns = [p.strip() for p in patterns if p.strip() and not p.startswith("#")]
    context = exclude_paths(str(tmp_path), list(patterns), dockerfile="Dockerfile.prod")
    assert set(sent) <= context
    assert context.isdisjoint(kept_out)
