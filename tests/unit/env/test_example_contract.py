"""The repository's own .env.example: complete, annotated, and usable from a fresh clone."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from periph_env.env import check, init
from periph_env.env.parser import parse_bytes
from periph_env.env.schema import build

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / ".env.example"
SEED = ROOT.parent / "shared" / "seed" / "deployment-guide.txt"

# Keys the seed's .env.example section lists (read from the seed when it is there).
SEED_KEYS = [
    "DB_HOST",
    "DB_PORT",
    "DB_USER",
    "DB_PASSWORD",
    "POSTGRES_DB",
    "REDIS_HOST",
    "REDIS_PORT",
    "REDIS_PASSWORD",
    "JWT_SECRET",
    "GOOGLE_CLIENT_ID",
    "GOOGLE_CLIENT_SECRET",
    "GOOGLE_REDIRECT_URL",
    "SMTP_HOST",
    "SMTP_PORT",
    "SMTP_USER",
    "SMTP_PASSWORD",
    "EMAIL_FROM_ADDRESS",
    "POLYGON_API_KEY",
    "ALPHA_VANTAGE_API_KEY",
    "TWITTER_API_IO_KEY",
    "X_API_KEY",
    "X_API_SECRET",
    "X_ACCESS_TOKEN",
    "X_ACCESS_SECRET",
    "GEMINI_API_KEY",
    "GEMINI_FREE_KEYS",
    "GROK_API_KEY",
    "STRIPE_SECRET_KEY",
    "STRIPE_PUBLISHABLE_KEY",
    "VITE_ENVIRONMENT",
    "BACKEND_URL",
    "SENDGRID_API_KEY",
    "SLACK_WEBHOOK_URL",
    "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_CHAT_ID",
    "HOT_RELOAD",
]
# Names compose, the backend and the worker read: renaming one breaks them.
SHARED_KEYS = [
    "DB_HOST",
    "DB_PORT",
    "DB_USER",
    "DB_PASSWORD",
    "POSTGRES_DB",
    "REDIS_HOST",
    "REDIS_PORT",
    "REDIS_PASSWORD",
    "JWT_SECRET",
    "BACKEND_URL",
    "VITE_ENVIRONMENT",
    "HOT_RELOAD",
]


def example_keys() -> list[str]:
    return [e.key for e in parse_bytes(EXAMPLE.read_bytes(), str(EXAMPLE)).entries]


def test_every_seed_key_is_in_the_example():
    keys = set(example_keys())
    assert set(SEED_KEYS) <= keys
    if SEED.exists():
        section = SEED.read_text().split("\n.env.example\n", 1)[1]
        seed = set(re.findall(r"^([A-Z][A-Z0-9_]+)=", section, re.MULTILINE))
        assert seed <= keys


def test_the_keys_other_services_read_keep_their_names():
    assert set(SHARED_KEYS) <= set(example_keys())


def test_the_example_checks_clean_alone_and_says_so():
    report = check(str(ROOT / ".env-does-not-exist"), str(EXAMPLE), "local")
    assert report.findings == []
    assert report.example_only and report.notices


def test_every_key_is_annotated_exactly_once():
    keys = example_keys()
    assert len(keys) == len(set(keys))
    _, findings = build(parse_bytes(EXAMPLE.read_bytes(), str(EXAMPLE)).entries, str(EXAMPLE))
    assert findings == []


def test_a_fresh_init_checks_clean_on_local_with_no_hand_edits(tmp_path: Path):
    shutil.copy(EXAMPLE, tmp_path / ".env.example")
    env, example = str(tmp_path / ".env"), str(tmp_path / ".env.example")
    result = init(env, example)
    assert result.created and result.generated == ["JWT_SECRET"]
    report = check(env, example, "local")
    assert report.findings == [] and report.exit_code(strict=True) == 0


def test_only_external_credentials_stay_placeholders_after_init(tmp_path: Path):
    shutil.copy(EXAMPLE, tmp_path / ".env.example")
    env = tmp_path / ".env"
    init(str(env), str(tmp_path / ".env.example"))
    schema, _ = build(parse_bytes(EXAMPLE.read_bytes(), str(EXAMPLE)).entries, str(EXAMPLE))
    values = {e.key: e.value for e in parse_bytes(env.read_bytes(), str(env)).entries}
    placeholders = [k for k, v in values.items() if v.startswith("<")]
    assert all(not schema.specs[k].required or schema.specs[k].group for k in placeholders)
    assert "JWT_SECRET" not in placeholders and len(values["JWT_SECRET"]) == 64
