"""The env engine's reading of values for other engines, and which of them are secret."""

from __future__ import annotations

from periph_env.env import read_values, secret_values


def test_values_read_like_python_dotenv(tmp_path):
    path = tmp_path / ".env"
    path.write_text('DB_USER="peripheral"\nPOSTGRES_DB=${DB_USER}_app\nGREETING="a\\nb"\n')
    assert read_values(str(path)) == {
        "DB_USER": "peripheral",
        "POSTGRES_DB": "peripheral_app",
        "GREETING": "a\nb",
    }


def test_a_key_marked_secret_in_the_contract_is_secret_whatever_its_name(tmp_path):
    example = tmp_path / ".env.example"
    example.write_text("# @secret optional\nWEBHOOK=\n# @string\nNAME=\n")
    found = secret_values({"WEBHOOK": "https://hooks/abcdef", "NAME": "plain-name"}, str(example))
    assert found == ["https://hooks/abcdef"]


def test_without_a_contract_key_names_and_credential_shapes_decide(tmp_path):
    values = {
        "API_TOKEN": "tok-123456",
        "HOST": "db.internal",
        "PAYLOAD": "sk_live_" + "a1B2c3D4e5F6g7H8i9J0",
    }
    found = secret_values(values, str(tmp_path / "missing.example"))
    assert found == sorted(["tok-123456", values["PAYLOAD"]])


def test_short_secrets_are_listed_down_to_the_floor_and_switch_words_never(tmp_path):
    values = {"DB_PASSWORD": "abc", "PIN_TOKEN": "ab", "AUTH_ENABLED": "true"}
    assert secret_values(values, str(tmp_path / "none")) == ["abc"]
