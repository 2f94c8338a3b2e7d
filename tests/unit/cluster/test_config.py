"""``[dev.cluster]`` in periph.toml: which cluster ``--cluster [NAME]`` means, and bad tables."""

from __future__ import annotations

import pytest

from periph_env.cluster.config import resolve
from periph_env.errors import UsageError


def config(**cluster) -> dict:
    return {"images": {"registry": "reg:5000"}, "dev": {"cluster": cluster}}


@pytest.fixture(autouse=True)
def no_context_override(monkeypatch):
    monkeypatch.delenv("PERIPH_DEV_CLUSTER_CONTEXT", raising=False)


def test_the_default_cluster_uses_the_images_registry_and_a_namespace_per_user():
    settings = resolve(config(context="dev", user="Alice"), None)
    assert (settings.context, settings.registry) == ("dev", "reg:5000")
    assert settings.namespace == "peripheral-dev-alice"
    assert settings.storage == "ephemeral"


def test_a_named_cluster_overrides_the_defaults_key_by_key():
    settings = resolve(config(context="dev", user="a", gpu={"context": "gpu"}), "gpu")
    assert settings.context == "gpu" and settings.user == "a"


def test_an_unknown_cluster_name_lists_the_known_ones():
    with pytest.raises(UsageError, match="no cluster named 'cpu'") as err:
        resolve(config(context="dev", user="a", gpu={"context": "gpu"}), "cpu")
    assert "gpu" in (err.value.hint or "")


def test_no_dev_cluster_table_says_what_to_add():
    with pytest.raises(UsageError, match=r"no \[dev.cluster\] table"):
        resolve({}, None)


def test_a_misspelt_key_is_named():
    with pytest.raises(UsageError, match=r"unknown key.*contxt"):
        resolve(config(contxt="dev", user="a"), None)


def test_a_context_is_required():
    with pytest.raises(UsageError, match="needs context"):
        resolve(config(user="a"), None)


def test_the_environment_overrides_the_context(monkeypatch):
    monkeypatch.setenv("PERIPH_DEV_CLUSTER_CONTEXT", "ci")
    assert resolve(config(context="dev", user="a"), None).context == "ci"


def test_an_unknown_storage_kind_is_refused():
    with pytest.raises(UsageError, match="storage = 'disk'"):
        resolve(config(context="dev", user="a", storage="disk"), None)
