"""The real node's config files as periph hands them to containerd, kubelet, kube-proxy, CoreDNS."""

from __future__ import annotations

import base64
import io
import json
import shlex
import tarfile
import tomllib
from pathlib import Path

from periph_env.testenv import kube_config as kcfg
from periph_env.testenv import node_cleanup as ncleanup
from periph_env.testenv import node_config as ncfg
from periph_env.testenv import orchestrator
from periph_env.testenv.node_pause import image_archive

ROOT = Path("/cache/node")
CRI = "io.containerd.grpc.v1.cri"


def containerd() -> dict:
    text = ncfg.containerd_config(ROOT / "root", ROOT / "net.d", "127.0.0.1:5000")
    return tomllib.loads(text)


def test_containerd_is_periphs_own_instance_not_dockerds():
    config = containerd()

    assert config["root"] == str(ROOT / "root")
    assert config["grpc"]["address"] == str(ncfg.containerd_socket())
    assert "docker" not in json.dumps(config)


def test_containerd_restricts_oom_score_adj_and_uses_cgroupfs_and_the_local_pause():
    cri = containerd()["plugins"][CRI]

    assert cri["restrict_oom_score_adj"] is True
    assert cri["sandbox_image"] == ncfg.PAUSE_IMAGE
    assert cri["containerd"]["runtimes"]["runc"]["options"]["SystemdCgroup"] is False


def test_containerd_pulls_from_the_test_registry_over_plain_http():
    mirrors = containerd()["plugins"][CRI]["registry"]["mirrors"]

    assert mirrors == {"127.0.0.1:5000": {"endpoint": ["http://127.0.0.1:5000"]}}


def test_cni_chain_is_bridge_portmap_firewall_on_the_pod_cidr():
    conflist = ncfg.cni_conflist(ROOT / "ipam")

    assert [p["type"] for p in conflist["plugins"]] == ["bridge", "portmap", "firewall"]
    bridge = conflist["plugins"][0]
    assert bridge["bridge"] == ncfg.BRIDGE
    assert bridge["ipam"]["ranges"] == [[{"subnet": ncfg.POD_CIDR}]]
    assert bridge["ipam"]["dataDir"] == str(ROOT / "ipam")


def test_kubelet_runs_on_cgroup_v1_with_cgroupfs_and_keeps_state_under_the_cache():
    config = ncfg.kubelet_configuration(ROOT, ROOT / "ca.crt")
    argv = ncfg.kubelet_argv(Path("/bin/kubelet"), ROOT)

    assert config["failCgroupV1"] is False
    assert config["cgroupDriver"] == "cgroupfs"
    assert config["failSwapOn"] is False
    assert config["podLogsDir"].startswith(str(ROOT))
    assert config["staticPodPath"].startswith(str(ROOT))
    assert f"--root-dir={ROOT / 'kubelet'}" in argv
    assert f"--node-ip={ncfg.NODE_IP}" in argv


def test_kubelet_is_tainted_and_points_pods_at_cluster_dns():
    config = ncfg.kubelet_configuration(ROOT, ROOT / "ca.crt")

    assert config["registerWithTaints"] == [ncfg.REAL_NODE_TAINT]
    assert config["clusterDNS"] == [ncfg.NODE_IP]
    assert config["containerRuntimeEndpoint"] == f"unix://{ncfg.containerd_socket()}"


def test_kube_proxy_uses_iptables_and_changes_no_sysctl():
    config = ncfg.kube_proxy_configuration(ROOT / "kubeconfig")

    assert config["mode"] == "iptables"
    assert config["iptables"]["localhostNodePorts"] is False
    assert config["conntrack"]["maxPerCore"] == 0
    assert config["conntrack"]["min"] == 0


def test_corefile_serves_the_cluster_domain_on_the_node_ip_from_the_api():
    corefile = ncfg.corefile(ROOT / "coredns.kubeconfig", ["192.0.2.53"])

    assert f"bind {ncfg.NODE_IP}" in corefile
    assert f"kubernetes {ncfg.CLUSTER_DOMAIN}" in corefile
    assert f"kubeconfig {ROOT / 'coredns.kubeconfig'}" in corefile
    assert "forward . 192.0.2.53" in corefile


def test_upstream_nameservers_skip_loopback_resolvers_pods_cannot_reach():
    resolv = "search example\nnameserver 127.0.0.53\nnameserver 192.0.2.53\n"

    assert ncfg.upstream_nameservers(resolv) == ["192.0.2.53"]


def test_client_certificates_name_the_node_and_kube_proxy():
    assert ncfg.kubelet_subject() == f"/O=system:nodes/CN=system:node:{ncfg.NODE_NAME}"
    assert ncfg.PROXY_SUBJECT == "/CN=system:kube-proxy"


def test_local_volumes_are_pinned_to_the_real_node_and_the_class_is_not_default():
    storage_class, *volumes = ncfg.storage_documents(ROOT / "volumes", count=2)

    assert storage_class["volumeBindingMode"] == "WaitForFirstConsumer"
    assert "annotations" not in storage_class["metadata"]
    assert [v["spec"]["local"]["path"] for v in volumes] == [
        str(ROOT / "volumes" / "pv-0"),
        str(ROOT / "volumes" / "pv-1"),
    ]
    term = volumes[0]["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]
    assert term["matchExpressions"][0]["values"] == [ncfg.NODE_NAME]


def test_pull_secret_carries_the_registry_credentials():
    secret = ncfg.pull_secret_document("pull", "ns", "127.0.0.1:5000", "user", "s3cret")

    config = json.loads(secret["stringData"][".dockerconfigjson"])
    assert secret["type"] == "kubernetes.io/dockerconfigjson"
    assert base64.b64decode(config["auths"]["127.0.0.1:5000"]["auth"]) == b"user:s3cret"


def test_real_pod_spec_adds_selector_and_toleration_and_keeps_the_rest():
    spec = {"containers": [], "nodeSelector": {"disk": "ssd"}, "tolerations": [{"key": "x"}]}

    placed = ncfg.real_pod_spec(spec)

    assert placed["nodeSelector"] == {"disk": "ssd", **ncfg.REAL_NODE_SELECTOR}
    assert placed["tolerations"] == [{"key": "x"}, ncfg.REAL_NODE_TOLERATION]
    assert spec["nodeSelector"] == {"disk": "ssd"}


def test_kwok_manages_only_its_own_annotated_nodes():
    patches = {p["name"]: p for p in ncfg.control_plane_patches()}
    kwok_args = {a["key"]: a for a in patches["kwok-controller"]["extraArgs"]}
    key, value = ncfg.KWOK_NODE_ANNOTATION.split("=")

    assert kwok_args["manage-all-nodes"] == {
        "key": "manage-all-nodes",
        "value": "false",
        "override": True,
    }
    assert kwok_args["manage-nodes-with-annotation-selector"]["value"] == f"{key}={value}"
    assert all(n["metadata"]["annotations"][key] == value for n in kcfg.node_documents())


def test_apiserver_reaches_the_real_kubelet_by_ip_and_kwok_by_hostname():
    patches = {p["name"]: p for p in ncfg.control_plane_patches()}
    args = {a["key"]: a["value"] for a in patches["kube-apiserver"]["extraArgs"]}

    # The real node's name does not resolve; kwok's nodes have only Hostname=localhost.
    assert args["kubelet-preferred-address-types"] == "InternalIP,Hostname"
    assert args["advertise-address"] == ncfg.NODE_IP
    assert set(ncfg.apiserver_cert_sans()) == {ncfg.NODE_IP, ncfg.KUBERNETES_SERVICE_IP}


def test_kwokctl_config_gets_the_node_patches_only_when_asked():
    plain = kcfg.kwokctl_configuration(Path("/bin"))
    with_node = kcfg.kwokctl_configuration(Path("/bin"), real_node=True)

    assert "componentsPatches" not in plain
    assert "kubeApiserverCertSANs" not in plain["options"]
    assert with_node["componentsPatches"] == ncfg.control_plane_patches()
    assert with_node["options"]["kubeApiserverCertSANs"] == ncfg.apiserver_cert_sans()


def test_cluster_names_must_be_dns_labels():
    assert kcfg.valid_cluster_name("periph-test")
    assert kcfg.valid_cluster_name("periph-node-dev")
    assert not kcfg.valid_cluster_name("Periph")
    assert not kcfg.valid_cluster_name("../etc")
    assert not kcfg.valid_cluster_name("")


IPTABLES_SAVE = """\
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:DOCKER - [0:0]
:KUBE-FIREWALL - [0:0]
:CNI-FORWARD - [0:0]
-A INPUT -j KUBE-FIREWALL
-A FORWARD -m comment --comment "CNI firewall plugin rules" -j CNI-FORWARD
-A FORWARD -o docker0 -j DOCKER
-A KUBE-FIREWALL -j DROP
COMMIT
*nat
:POSTROUTING ACCEPT [0:0]
:KUBE-POSTROUTING - [0:0]
-A POSTROUTING -j KUBE-POSTROUTING
COMMIT
"""


def test_only_kube_and_cni_chains_are_removed_and_dockers_stay():
    assert ncleanup.chains_to_remove(IPTABLES_SAVE) == {
        "filter": ["KUBE-FIREWALL", "CNI-FORWARD"],
        "nat": ["KUBE-POSTROUTING"],
    }


def test_rules_jumping_to_our_chains_become_deletions():
    assert ncleanup.rules_jumping_to_ours(IPTABLES_SAVE) == [
        ("filter", "-D INPUT -j KUBE-FIREWALL"),
        ("filter", '-D FORWARD -m comment --comment "CNI firewall plugin rules" -j CNI-FORWARD'),
        ("nat", "-D POSTROUTING -j KUBE-POSTROUTING"),
    ]


def test_mounts_under_the_node_dirs_come_deepest_first():
    mountinfo = "\n".join(
        [
            "1 0 8:1 / / rw - ext4 /dev/vda rw",
            "2 1 0:5 / /run/periph-node/x rw - tmpfs t rw",
            "3 2 0:6 / /run/periph-node/x/rootfs rw - overlay o rw",
            "4 1 0:7 / /run/periph-nodeother rw - tmpfs t rw",
        ]
    )

    assert ncleanup.mounts_under(mountinfo, [Path("/run/periph-node")]) == [
        "/run/periph-node/x/rootfs",
        "/run/periph-node/x",
    ]


def test_pause_image_archive_holds_only_an_executable_pause():
    data = io.BytesIO(image_archive(b"\x7fELF", "local/pause:1"))
    with tarfile.open(fileobj=data) as archive:
        manifest = json.loads(archive.extractfile("manifest.json").read())
        config = json.loads(archive.extractfile(manifest[0]["Config"]).read())
        with tarfile.open(fileobj=archive.extractfile(manifest[0]["Layers"][0])) as layer:
            names = layer.getnames()
            mode = layer.getmember("pause").mode

    assert manifest[0]["RepoTags"] == ["local/pause:1"]
    assert names == ["pause"]
    assert mode == 0o755
    assert config["config"]["Entrypoint"] == ["/pause"]


def test_default_up_down_and_status_cover_the_node_tier():
    assert "node" in orchestrator.DEFAULT_TIERS
    assert orchestrator.DEFAULT_TIERS[-1] == "node"  # after the cluster it joins
    assert [m.__name__ for m in orchestrator.components(["node"])] == ["periph_env.testenv.node"]
    assert orchestrator.down.__defaults__[0] == orchestrator.ALL_TIERS


def test_a_cluster_made_before_the_node_patches_still_serves_the_k8s_tier():
    assert kcfg.reusable_config("old", "new", "old", require_real_node=False)
    assert not kcfg.reusable_config("old", "new", "old", require_real_node=True)
    assert kcfg.reusable_config("new", "new", "old", require_real_node=True)
    assert not kcfg.reusable_config("other", "new", "old", require_real_node=False)
    assert not kcfg.reusable_config(None, "new", "old", require_real_node=False)


def test_quoted_rule_comments_survive_as_one_argument():
    dump = (
        "*nat\n:CNI-abc - [0:0]\n"
        '-A POSTROUTING -s 10.213.16.9/32 -m comment --comment "name: \\"periph-node\\"" '
        "-j CNI-abc\nCOMMIT\n"
    )

    [(table, spec)] = ncleanup.rules_jumping_to_ours(dump)

    assert table == "nat"
    assert shlex.split(spec)[-4:] == ["--comment", 'name: "periph-node"', "-j", "CNI-abc"]


def test_kubelet_refuses_anonymous_callers_and_the_apiserver_brings_a_certificate():
    config = ncfg.kubelet_configuration(ROOT, ROOT / "ca.crt")
    patches = {p["name"]: p for p in ncfg.control_plane_patches()}
    args = {a["key"]: a["value"] for a in patches["kube-apiserver"]["extraArgs"]}

    assert config["authentication"]["anonymous"]["enabled"] is False
    assert config["authentication"]["x509"]["clientCAFile"] == str(ROOT / "ca.crt")
    assert args["kubelet-client-certificate"] == str(kcfg.cluster_dir() / "pki" / "admin.crt")
    assert args["kubelet-client-key"] == str(kcfg.cluster_dir() / "pki" / "admin.key")
