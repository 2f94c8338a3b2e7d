"""A malformed Docker config file is a clear error naming the file and the field, never a
crash and never the credential value — for ``images``/``build``/``push`` and the deploy
guard alike (both read it through ``images.credentials``)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from periph_env.deploy import registry as deploy_registry
from periph_env.errors import EXIT_USAGE
from periph_env.images.credentials import DockerConfigError, resolve

HOST = "127.0.0.1:5000"
SECRET = "Tr0ub4dor&3-not-to-be-shown"


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "docker"
    folder.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(folder))
    for name in ("DOCKER_USERNAME", "DOCKER_PASSWORD", "PERIPH_REGISTRY_USERNAME"):
        monkeypatch.delenv(name, raising=False)
    return folder


def write(config_dir: Path, data: object) -> Path:
    path = config_dir / "config.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def refused(config_dir: Path) -> DockerConfigError:
    with pytest.raises(DockerConfigError) as caught:
        resolve(HOST)
    message = str(caught.value)
    assert str(config_dir / "config.json") in message
    assert SECRET not in message and b64(SECRET) not in message
    return caught.value


def test_a_login_in_auths_gives_its_user_and_password(config_dir):
    write(config_dir, {"auths": {HOST: {"auth": b64(f"ci:{SECRET}")}}})
    found = resolve(HOST)
    assert found is not None and (found.username, found.password) == ("ci", SECRET)
    assert SECRET not in repr(found)


def test_an_auths_key_with_a_scheme_matches_its_host(config_dir):
    write(config_dir, {"auths": {f"http://{HOST}/v2/": {"auth": b64("ci:pw")}}})
    assert resolve(HOST).username == "ci"


def test_no_config_file_means_anonymous(config_dir):
    assert resolve(HOST) is None


def test_invalid_json_names_the_file_line_and_column(config_dir):
    write(config_dir, '{\n  "auths": {"x": {"auth": "' + SECRET + '"}\n')
    error = refused(config_dir)
    assert "config.json:3:1: not valid JSON" in str(error)
    assert error.exit_code == EXIT_USAGE


def test_auths_as_a_list_names_the_field(config_dir):
    write(config_dir, {"auths": [HOST, SECRET]})
    assert "auths: expected an object, found a list" in str(refused(config_dir))


def test_an_auth_that_is_not_base64_names_the_entry_without_its_value(config_dir):
    write(config_dir, {"auths": {HOST: {"auth": SECRET}}})
    assert f'auths["{HOST}"].auth: not valid base64' in str(refused(config_dir))


def test_an_auth_without_a_colon_names_the_entry_without_its_value(config_dir):
    write(config_dir, {"auths": {HOST: {"auth": b64(SECRET)}}})
    assert f'auths["{HOST}"].auth: decodes to no `user:password` pair' in str(refused(config_dir))


def test_an_entry_that_is_not_an_object_names_the_entry(config_dir):
    write(config_dir, {"auths": {HOST: SECRET}})
    assert f'auths["{HOST}"]: expected an object, found a string' in str(refused(config_dir))


def test_a_creds_store_whose_helper_is_missing_names_the_field_and_the_helper(config_dir):
    write(config_dir, {"credsStore": "periph-no-such-helper", "auths": {}})
    message = str(refused(config_dir))
    assert "credsStore: the credential helper docker-credential-periph-no-such-helper" in message
    assert "is not installed" in message


def test_a_cred_helper_for_the_host_that_is_missing_names_its_key(config_dir):
    write(config_dir, {"credHelpers": {HOST: "periph-no-such-helper"}})
    assert f'credHelpers["{HOST}"]: the credential helper' in str(refused(config_dir))


def test_a_config_that_is_a_directory_says_so(config_dir):
    (config_dir / "config.json").mkdir()
    assert "is a directory, not a file" in str(refused(config_dir))


def test_a_config_that_is_not_an_object_says_what_it_is(config_dir):
    write(config_dir, json.dumps([SECRET]))
    assert "expected a JSON object, found a list" in str(refused(config_dir))


def test_environment_credentials_win_over_a_broken_file(config_dir, monkeypatch):
    write(config_dir, "{broken")
    monkeypatch.setenv("DOCKER_USERNAME", "ci")
    monkeypatch.setenv("DOCKER_PASSWORD", SECRET)
    assert resolve(HOST).source == "DOCKER_USERNAME/DOCKER_PASSWORD"


def test_the_deploy_guard_reads_the_same_file_with_the_same_errors(config_dir):
    write(config_dir, {"auths": {HOST: {"auth": SECRET}}})
    with pytest.raises(DockerConfigError) as caught:
        deploy_registry.credentials(HOST)
    assert f'auths["{HOST}"].auth: not valid base64' in str(caught.value)
    assert SECRET not in str(caught.value)


def test_the_deploy_guard_refuses_with_the_config_error_instead_of_crashing(config_dir):
    from periph_env.deploy.guards import images_guard, safely

    write(config_dir, {"auths": [SECRET]})
    result = safely("images", lambda: images_guard([f"{HOST}/peripheral-x@sha256:{'a' * 64}"]))
    assert not result.ok and "auths: expected an object, found a list" in result.message
    assert SECRET not in result.message


def test_a_broken_entry_of_another_registry_is_named_too(config_dir):
    # The docker SDK parses every entry when a client is made: one broken entry breaks all.
    write(config_dir, {"auths": {HOST: {"auth": b64("ci:pw")}, "ghcr.io": {"auth": SECRET}}})
    assert 'auths["ghcr.io"].auth: not valid base64' in str(refused(config_dir))


def test_proxies_that_are_not_an_object_are_named(config_dir):
    write(config_dir, {"proxies": ["http://proxy"]})
    assert "proxies: expected an object, found a list" in str(refused(config_dir))
