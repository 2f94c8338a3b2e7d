"""What periph hands to kwokctl: nothing downloaded, nothing of the user's touched."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from periph_env.testenv import kube, kube_config
from periph_env.testenv.kube_config import (
    BINARIES,
    CONTEXT_NAME,
    NODE_NAMES,
    POD_LOG_LINES,
    cluster_logs,
    config_documents,
    create_args,
    delete_args,
    fingerprint,
    kwokctl_configuration,
    kwokctl_env,
    log_lines,
    missing_binaries,
    node_documents,
    periph_kubeconfig,
    pod_log_text,
    stage_documents,
)

BIN = Path("/cache/kube/bin")


def test_every_binary_kwokctl_may_start_comes_from_the_cache():
    options = kwokctl_configuration(BIN)["options"]

    binaries = {k: v for k, v in options.items() if k.endswith("Binary")}

    assert set(binaries) >= {
        "etcdBinary",
        "kubeApiserverBinary",
        "kubeControllerManagerBinary",
        "kubeSchedulerBinary",
        "kubectlBinary",
        "kwokControllerBinary",
    }
    assert all(Path(v).parent == BIN for v in binaries.values())


def test_cluster_uses_the_binary_runtime_on_loopback_with_only_core_components():
    options = kwokctl_configuration(BIN)["options"]

    assert (options["runtime"], options["bindAddress"]) == ("binary", "127.0.0.1")
    assert options["kubeVersion"] == kube_config.KUBE_VERSION
    assert "prometheus" not in options["components"]
    assert "metrics-server" not in options["components"]


def test_config_carries_stages_and_pod_logs_after_the_kwokctl_configuration():
    kinds = [d["kind"] for d in config_documents(BIN, Path("/x/pod.log"))]

    assert kinds[0] == "KwokctlConfiguration"
    assert "Stage" in kinds
    assert kinds[-1] == "ClusterLogs"


def test_cluster_logs_serve_one_file_for_every_pod():
    doc = cluster_logs(Path("/x/pod.log"))

    assert "selector" not in doc["spec"]
    assert doc["spec"]["logs"] == [{"logsFile": "/x/pod.log", "follow": True}]


def test_pod_log_is_written_in_the_cri_format_kwok_reads():
    text = pod_log_text(["hello world"])

    stamp, stream, tag, message = text.rstrip("\n").split(" ", 3)
    assert (stream, tag, message) == ("stdout", "F", "hello world")
    assert stamp.endswith("Z")
    assert log_lines(pod_log_text()) == list(POD_LOG_LINES)


def test_kwokctl_never_sees_the_users_kwok_variables():
    env = kwokctl_env({"PATH": "/bin", "KWOK_KUBE_VERSION": "v1.20.0", "KWOK_RUNTIME": "docker"})

    assert env == {"PATH": "/bin", "KWOK_WORKDIR": str(kube_config.kwok_workdir())}


def test_create_and_delete_leave_the_users_kubeconfig_alone():
    home_config = str(Path.home() / ".kube" / "config")
    create = create_args(Path("/x/kwokctl.yaml"))
    delete = delete_args(Path("/x/scratch"))

    assert create[create.index("--kubeconfig") + 1] == ""
    assert delete[delete.index("--kubeconfig") + 1] == "/x/scratch"
    assert home_config not in create + delete


def test_periph_kubeconfig_renames_the_context_and_keeps_server_and_credentials():
    kwok = {
        "clusters": [{"name": "kwok-periph-test", "cluster": {"server": "https://127.0.0.1:1"}}],
        "users": [{"name": "kwok-periph-test", "user": {"client-certificate": "/pki/a.crt"}}],
        "contexts": [{"name": "kwok-periph-test", "context": {}}],
    }

    config = periph_kubeconfig(kwok)

    assert config["current-context"] == CONTEXT_NAME
    assert [c["name"] for c in config["contexts"]] == [CONTEXT_NAME]
    assert config["clusters"][0]["cluster"] == {"server": "https://127.0.0.1:1"}
    assert config["users"][0]["user"] == {"client-certificate": "/pki/a.crt"}


def test_fake_nodes_are_at_least_two_and_untainted():
    nodes = node_documents()

    assert [n["metadata"]["name"] for n in nodes] == list(NODE_NAMES)
    assert len(nodes) >= 2
    assert all("taints" not in n.get("spec", {}) for n in nodes)


def test_fingerprint_changes_with_any_stage_and_is_stable_otherwise():
    docs = config_documents(BIN, Path("/x/pod.log"))
    changed = config_documents(BIN, Path("/x/pod.log"))
    changed[1]["spec"]["delay"] = {"durationMilliseconds": 1}

    assert fingerprint(docs) == fingerprint(config_documents(BIN, Path("/x/pod.log")))
    assert fingerprint(docs) != fingerprint(changed)


def test_missing_binaries_lists_what_the_build_must_produce(tmp_path):
    (tmp_path / "kubectl").write_text("")

    missing = missing_binaries(tmp_path)

    assert "kubectl" not in missing
    assert set(missing) == set(BINARIES) - {"kubectl"}


def test_stages_file_parses_into_named_kwok_stages():
    stages = stage_documents()

    assert all(s["apiVersion"] == "kwok.x-k8s.io/v1alpha1" for s in stages)
    assert len({s["metadata"]["name"] for s in stages}) == len(stages)


def test_kubectl_argv_uses_the_cached_kubectl_and_periphs_kubeconfig():
    info = kube.ClusterInfo(
        name="periph-test",
        kubeconfig=Path("/k/kubeconfig"),
        context="periph-test",
        bin_dir=BIN,
        server="https://127.0.0.1:1",
        started_by_periph=True,
    )

    argv = info.kubectl_argv("get", "nodes")

    assert argv[:5] == [
        str(BIN / "kubectl"),
        "--kubeconfig",
        "/k/kubeconfig",
        "--context",
        "periph-test",
    ]
    assert argv[5:] == ["get", "nodes"]


def test_a_pid_file_naming_an_unrelated_process_is_not_a_component(tmp_path, monkeypatch):
    monkeypatch.setattr(kube_config, "CACHE_DIR", tmp_path)
    pids = kube_config.cluster_dir() / "pids"
    pids.mkdir(parents=True)
    (pids / "kube-apiserver.pid").write_text(str(os.getpid()))

    assert kube.component_pid("kube-apiserver") is None


@pytest.mark.parametrize("content", ["", "not-a-pid"])
def test_an_unreadable_pid_file_is_not_a_component(tmp_path, monkeypatch, content):
    monkeypatch.setattr(kube_config, "CACHE_DIR", tmp_path)
    pids = kube_config.cluster_dir() / "pids"
    pids.mkdir(parents=True)
    (pids / "etcd.pid").write_text(content)

    assert kube.component_pid("etcd") is None
