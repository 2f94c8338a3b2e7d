"""``[environments.<env>] apiserver_cidrs`` in periph.toml sets NetworkPolicy
``apiserver-proxy``'s sources at deploy time (docs/k8s.md, "Network policies")."""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path

import pytest
import yaml

from periph_env.deploy import apiserver_proxy

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def rendered_prod() -> list[dict]:
    out = subprocess.run(
        ["kubectl", "kustomize", str(ROOT / "k8s" / "overlays" / "prod")],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def policy(stack: list[dict]) -> dict:
    return next(
        d
        for d in stack
        if d["kind"] == "NetworkPolicy" and d["metadata"]["name"] == "apiserver-proxy"
    )


def config(value: object) -> dict:
    return {"environments": {"prod": {"apiserver_cidrs": value}}}


def test_the_configured_cidrs_replace_the_placeholder_one_ip_block_each(rendered_prod) -> None:
    stack = copy.deepcopy(rendered_prod)
    cidrs, problems = apiserver_proxy.configured(config(["10.0.0.10/32", "10.0.1.0/24"]), "prod")
    assert problems == []
    assert apiserver_proxy.apply(stack, cidrs) == []
    rule = policy(stack)["spec"]["ingress"][0]
    assert rule["from"] == [
        {"ipBlock": {"cidr": "10.0.0.10/32"}},
        {"ipBlock": {"cidr": "10.0.1.0/24"}},
    ]
    # Only the sources change: the ports verify uses stay as the overlay has them.
    assert rule["ports"] == policy(rendered_prod)["spec"]["ingress"][0]["ports"]


def test_unset_leaves_the_overlays_placeholder(rendered_prod, tmp_path: Path) -> None:
    stack = copy.deepcopy(rendered_prod)
    (tmp_path / "periph.toml").write_text("[environments.prod]\nnamespace = 'x'\n")
    assert apiserver_proxy.apply_configured(stack, tmp_path, "prod") == []
    assert stack == rendered_prod
    assert policy(stack)["spec"]["ingress"][0]["from"] == [{"ipBlock": {"cidr": "192.0.2.1/32"}}]


def test_the_project_file_sets_it_for_its_environment_only(rendered_prod, tmp_path: Path) -> None:
    (tmp_path / "periph.toml").write_text(
        "[environments.prod]\napiserver_cidrs = ['172.18.0.2/32']\n[environments.demo]\n"
    )
    prod, demo = copy.deepcopy(rendered_prod), copy.deepcopy(rendered_prod)
    assert apiserver_proxy.apply_configured(prod, tmp_path, "prod") == []
    assert apiserver_proxy.apply_configured(demo, tmp_path, "demo") == []
    assert policy(prod)["spec"]["ingress"][0]["from"] == [{"ipBlock": {"cidr": "172.18.0.2/32"}}]
    assert demo == rendered_prod


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ([], "is empty (a rule with no source admits every source)"),
        ("10.0.0.1/32", "must be a list of CIDR strings"),
        (["10.0.0.1/8"], "'10.0.0.1/8' is not a network address"),
        (["apiserver"], "'apiserver' is not a network address"),
    ],
)
def test_a_bad_value_is_a_problem_naming_the_file_table_and_key(value, says) -> None:
    cidrs, problems = apiserver_proxy.configured(config(value), "prod")
    assert cidrs == []
    assert len(problems) == 1
    assert problems[0].startswith("periph.toml [environments.prod] apiserver_cidrs: ")
    assert says in problems[0]


def test_an_overlay_without_the_policy_is_a_problem_not_a_silent_no_op() -> None:
    problems = apiserver_proxy.apply(
        [{"kind": "Service", "metadata": {"name": "x"}}], ["10.0.0.1/32"]
    )
    assert problems == [
        "periph.toml sets apiserver_cidrs but the overlay renders no NetworkPolicy/apiserver-proxy"
    ]


class RenderingKube:
    """The Kube calls ``deploy_plan.plan`` makes: ``render_all`` by kustomize, and the read of
    the Secret-hash key (none yet: a new namespace), whose value joins the masked ones."""

    def __init__(self) -> None:
        self.secrets: list[str] = []

    def render_all(self, directories: list[str]) -> list[list[dict]]:
        return [self.render(d) for d in directories]

    def render(self, directory: str) -> list[dict]:
        out = subprocess.run(
            ["kubectl", "kustomize", directory], capture_output=True, text=True, check=True
        )
        return [d for d in yaml.safe_load_all(out.stdout) if d]

    def get(self, kind: str, name: str) -> None:
        return None


def test_the_deploy_plan_applies_the_configured_cidrs_and_blocks_on_a_bad_one(
    tmp_path: Path, monkeypatch
) -> None:
    from periph_env.deploy import deploy_plan, target

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    overlay = ROOT / "k8s" / "overlays" / "prod"
    table = (
        "[environments.prod]\nbranch = 'prod'\nnamespace = 'peripheral-prod'\n"
        f"context = 'c'\noverlay = '{overlay}'\n"
    )
    (tmp_path / "periph.toml").write_text(table + "apiserver_cidrs = ['10.9.0.0/16']\n")
    planned = deploy_plan.plan(target.resolve(tmp_path, "prod"), RenderingKube(), None, None)
    assert planned.manifest_problems == []
    assert policy(planned.stack)["spec"]["ingress"][0]["from"] == [
        {"ipBlock": {"cidr": "10.9.0.0/16"}}
    ]

    (tmp_path / "periph.toml").write_text(table + "apiserver_cidrs = ['10.9.0.1/16']\n")
    planned = deploy_plan.plan(target.resolve(tmp_path, "prod"), RenderingKube(), None, None)
    assert any("'10.9.0.1/16' is not a network address" in p for p in planned.manifest_problems)
