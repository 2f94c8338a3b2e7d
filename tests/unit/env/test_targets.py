"""Target rules (PE301-PE306) for --target local|demo|prod."""

from __future__ import annotations

import pytest

from tests.unit.env.conftest import GOOD_LOCAL, Workspace

STRONG = "9f8e7d6c5b4a39281706f5e4d3c2b1a0a1b2c3d4e5f60718293a4b5c6d7e8f90"


def deployed(target: str, **overrides: str) -> str:
    """GOOD_LOCAL turned into a clean file for ``target``, with ``overrides`` applied."""
    env = {
        "DB_HOST": "db",
        "DB_PORT": "5432",
        "DB_PASSWORD": "Zq8vN3xR7tL2pW9kY4mB6cD1",
        "JWT_SECRET": STRONG,
        "BACKEND_URL": "https://api.peripheral.internal",
        "HOT_RELOAD": "false",
        "VITE_ENVIRONMENT": {"demo": "staging", "prod": "production"}.get(target, "development"),
        "POLYGON_API_KEY": "Pq7Zr2Lm9Xt4Vb1Nc8Wd3Ke6",
    }
    env.update(overrides)
    return "".join(f"{k}={v}\n" for k, v in env.items())


@pytest.mark.parametrize("target", ["demo", "prod"])
def test_a_deployed_file_can_be_clean(ws: Workspace, target: str):
    ws.write_env(deployed(target))
    assert ws.codes(target) == []


@pytest.mark.parametrize(
    ("jwt", "why"),
    [
        ("not-a-placeholder-but-the-default", "is the example default"),
        ("Short9secret", "shorter than 32"),
        ("ab" * 20, "low-entropy"),
    ],
)
@pytest.mark.parametrize("target", ["demo", "prod"])
def test_a_weak_jwt_secret_is_pe301_on_deployed_targets(ws, target, jwt, why):
    ws.write_env(deployed(target, JWT_SECRET=jwt))
    finding = ws.finding("PE301", target)
    assert (finding.severity, finding.key) == ("error", "JWT_SECRET")
    assert why in finding.message


def test_a_weak_jwt_secret_is_fine_on_local(ws: Workspace):
    ws.write_env(GOOD_LOCAL)
    assert "PE301" not in ws.codes("local")


@pytest.mark.parametrize("target", ["demo", "prod"])
def test_db_password_at_the_example_default_is_pe302_on_deployed_targets(ws, target):
    ws.write_env(deployed(target, DB_PASSWORD="devpassword"))
    assert ws.finding("PE302", target).key == "DB_PASSWORD"


def test_a_live_stripe_key_on_demo_is_pe303(ws: Workspace):
    ws.write_env(deployed("demo", STRIPE_SECRET_KEY="sk_live_" + "a1B2c3D4" * 3))
    finding = ws.finding("PE303", "demo")
    assert "must start with sk_test_ on demo; it holds a prod key" in finding.message


def test_a_test_stripe_key_on_prod_is_pe303(ws: Workspace):
    ws.write_env(deployed("prod", STRIPE_SECRET_KEY="sk_test_" + "a1B2c3D4" * 3))
    assert "it holds a demo key" in ws.finding("PE303", "prod").message


def test_matching_stripe_keys_pass(ws: Workspace):
    ws.write_env(deployed("prod", STRIPE_SECRET_KEY="sk_live_" + "a1B2c3D4" * 3))
    assert "PE303" not in ws.codes("prod")


@pytest.mark.parametrize(
    ("target", "wrong"), [("local", "staging"), ("demo", "production"), ("prod", "development")]
)
def test_vite_environment_must_match_the_target_pe304(ws, target, wrong):
    ws.write_env(deployed(target, VITE_ENVIRONMENT=wrong))
    finding = ws.finding("PE304", target)
    assert f"is '{wrong}' but target {target} needs" in finding.message


@pytest.mark.parametrize("target", ["demo", "prod"])
def test_hot_reload_on_outside_local_is_a_pe305_warning(ws, target):
    ws.write_env(deployed(target, HOT_RELOAD="true"))
    finding = ws.finding("PE305", target)
    assert finding.severity == "warning"
    assert ws.check(target).exit_code() == 0
    assert ws.check(target).exit_code(strict=True) == 1


@pytest.mark.parametrize(
    "value",
    [
        "sk_live_" + "a1B2c3D4" * 3,
        "Zk3J9qLm2Xv8Rt5Wn7Bc4Hd6Fy1Gs0Pa",  # long and random-looking
        "${JWT_SECRET}",  # a secret passed through by reference
    ],
)
def test_a_secret_looking_vite_value_is_pe306_on_every_target(ws, value):
    ws.write_env(f"VITE_API_TOKEN={value}\n", extend_good=True)
    assert ws.finding("PE306", "local").severity == "error"


@pytest.mark.parametrize(
    "value", ["pk_test_" + "a1B2c3D4" * 3, "development", "http://localhost:5058"]
)
def test_public_vite_values_pass(ws, value):
    ws.write_env(f"VITE_PUBLIC_THING={value}\n", extend_good=True)
    assert "PE306" not in ws.codes("local")
