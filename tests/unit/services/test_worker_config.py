"""Worker configuration: every missing key named at once, no value ever echoed."""

import pytest
from peripheral_worker import config

FULL = {
    "DB_HOST": "db",
    "DB_PORT": "5432",
    "DB_USER": "app",
    "DB_PASSWORD": "pw-value-123",
    "POSTGRES_DB": "peripheral",
    "REDIS_HOST": "cache",
    "REDIS_PORT": "6379",
}


def test_full_environment_loads_with_defaults():
    s = config.load(FULL)
    assert (s.db_host, s.redis_port, s.metrics_port, s.redis_password) == ("db", 6379, 9102, None)
    assert s.hot_reload is False


def test_missing_keys_are_all_named_and_sorted():
    env = {k: v for k, v in FULL.items() if k not in {"REDIS_HOST", "DB_PASSWORD"}}
    with pytest.raises(config.ConfigError, match="DB_PASSWORD, REDIS_HOST"):
        config.load(env)


def test_bad_port_names_the_key_not_the_value():
    with pytest.raises(config.ConfigError) as err:
        config.load({**FULL, "DB_PORT": "pw-value-123"})
    assert "DB_PORT" in str(err.value)
    assert "pw-value-123" not in str(err.value)


@pytest.mark.parametrize("raw", ["true", "1", "YES", " on "])
def test_hot_reload_accepts_common_true_spellings(raw):
    assert config.load({**FULL, "HOT_RELOAD": raw}).hot_reload is True


def test_redact_hides_secrets_in_error_text():
    s = config.load({**FULL, "REDIS_PASSWORD": "redis-secret"})
    text = config.redact("auth redis-secret failed for pw-value-123", s.secrets())
    assert "redis-secret" not in text
    assert "pw-value-123" not in text
