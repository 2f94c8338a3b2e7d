"""What the real test node is made of: addresses, paths and every config file it runs on.

Pure functions only (paths and values in, documents out), so the unit tier checks each file
periph hands to containerd, the CNI plugins, the kubelet, kube-proxy and CoreDNS.
``periph_env.testenv.node`` writes them and runs the processes.

Addressing, all on this machine: the node IP sits on an interface of its own (a bridge
with no ports, as good as a dummy one), the pods on a CNI bridge, and the Service range is
routed into the node's interface, so no packet for a cluster address ever leaves the host
even when nothing answers it. CoreDNS runs as a host
process on the node IP (no image, no in-cluster credentials) and the kubelet hands that
address to every pod as its nameserver. The apiserver listens on loopback only; a relay on
the node IP forwards its advertised address, so pods reach the ``kubernetes`` Service.

One real node per machine: kube-proxy's and the kubelet's iptables chains and the
``/kubepods`` cgroups are machine-wide, so two nodes would fight over them.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from periph_env.testenv import kube_config as kcfg

COREDNS_VERSION = "v1.15.0"
NODE_NAME = "periph-real-0"
# Labels and a taint set the real node apart: simulated workloads (no toleration) never land
# on it, and a test picks it with REAL_NODE_SELECTOR plus REAL_NODE_TOLERATION.
REAL_NODE_LABEL = "periph.dev/real-node"
REAL_NODE_SELECTOR = {REAL_NODE_LABEL: "true"}
REAL_NODE_TAINT = {"key": REAL_NODE_LABEL, "value": "true", "effect": "NoSchedule"}
REAL_NODE_TOLERATION = {
    "key": REAL_NODE_LABEL,
    "operator": "Equal",
    "value": "true",
    "effect": "NoSchedule",
}
# kwok only manages nodes carrying this annotation (kube_config.node_documents sets it).
KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node=fake"

DUMMY_INTERFACE = "periph-node0"
BRIDGE = "periph-cni0"
NODE_IP = "10.213.0.1"
POD_CIDR = "10.213.16.0/24"
# kube-apiserver's default --service-cluster-ip-range; the first address is `kubernetes`.
SERVICE_CIDR = "10.0.0.0/24"
KUBERNETES_SERVICE_IP = "10.0.0.1"
CLUSTER_DOMAIN = "cluster.local"
KUBELET_PORT = 10250
KUBELET_HEALTHZ_PORT = 10248
PROXY_METRICS_PORT = 10249
PROXY_HEALTHZ_PORT = 10256
COREDNS_HEALTH_PORT = 10253
COREDNS_READY_PORT = 10254
PAUSE_IMAGE = "periph.local/pause:3.10"
STORAGE_CLASS = "periph-local"
# A demo stack claims four (db, cache, backups, off-site backups); 16 leave room for the
# namespaces still terminating while the next test module deploys.
LOCAL_VOLUMES = 16
LOCAL_VOLUME_SIZE = "1Gi"

# Sysctls the kubelet (or a CNI plugin) may change; their values are recorded before the
# node starts and written back by `down`.
SYSCTLS = (
    "kernel/panic",
    "kernel/panic_on_oops",
    "vm/overcommit_memory",
    "net/ipv4/ip_forward",
    "net/bridge/bridge-nf-call-iptables",
    "net/bridge/bridge-nf-call-ip6tables",
    "net/ipv4/conf/all/route_localnet",
)
# Chains of the kubelet, kube-proxy and the CNI plugins, by name prefix; `down` removes them.
CHAIN_PREFIXES = ("KUBE-", "CNI-")
# Directories outside periph's cache the kubelet insists on creating.
HOST_DIRS = ("/var/lib/kubelet/device-plugins", "/var/lib/kubelet", "/var/log/containers")
CGROUP_ROOT = Path("/sys/fs/cgroup")
CGROUP_NAME = "kubepods"
# Directory of machine-wide runtime state (sockets, netns); short for unix socket paths.
RUN_DIR = Path("/run/periph-node")


def node_dir() -> Path:
    """Everything of the real node that belongs to the current cluster, under the cache."""
    return kcfg.periph_dir() / "node"


def bin_dir() -> Path:
    """Where build-node.sh puts kubelet, kube-proxy, coredns and pause, keyed by version."""
    return kcfg.kube_dir() / f"node-{kcfg.KUBE_VERSION}-coredns{COREDNS_VERSION}" / "bin"


BINARIES = ("kubelet", "kube-proxy", "coredns", "pause")


def missing_binaries(directory: Path) -> list[str]:
    """Names of the node binaries absent from ``directory``."""
    return [b for b in BINARIES if not (directory / b).is_file()]


def containerd_socket() -> Path:
    return RUN_DIR / "containerd.sock"


def containerd_config(root: Path, cni_conf_dir: Path, registry: str) -> str:
    """containerd 1.6 config (version 2): periph's own root, state and socket, never dockerd's.

    ``restrict_oom_score_adj``: root here lacks CAP_SYS_RESOURCE, and runc fails with
    "can't get final child's PID from pipe" when it may not lower oom_score_adj. The test
    registry is plain HTTP on loopback; credentials come from each pod's imagePullSecret.
    """
    cri = 'plugins."io.containerd.grpc.v1.cri"'
    return "\n".join(
        [
            "version = 2",
            f'root = "{root}"',
            f'state = "{RUN_DIR / "containerd-state"}"',
            # Plugins that would touch machine-wide paths or ports are off.
            'disabled_plugins = ["io.containerd.internal.v1.opt",'
            ' "io.containerd.tracing.processor.v1.otlp"]',
            "[grpc]",
            f'  address = "{containerd_socket()}"',
            "[ttrpc]",
            f'  address = "{RUN_DIR / "containerd.sock.ttrpc"}"',
            f"[{cri}]",
            f'  sandbox_image = "{PAUSE_IMAGE}"',
            "  restrict_oom_score_adj = true",
            '  stream_server_address = "127.0.0.1"',
            '  stream_server_port = "0"',
            "  enable_selinux = false",
            f"[{cri}.containerd]",
            '  snapshotter = "overlayfs"',
            '  default_runtime_name = "runc"',
            f"[{cri}.containerd.runtimes.runc]",
            '  runtime_type = "io.containerd.runc.v2"',
            f"[{cri}.containerd.runtimes.runc.options]",
            "  SystemdCgroup = false",
            f"[{cri}.cni]",
            '  bin_dir = "/usr/lib/cni"',
            f'  conf_dir = "{cni_conf_dir}"',
            "  max_conf_num = 1",
            f'[{cri}.registry.mirrors."{registry}"]',
            f'  endpoint = ["http://{registry}"]',
            "",
        ]
    )


def cni_conflist(ipam_dir: Path) -> dict[str, Any]:
    """bridge + host-local, portmap, firewall (Docker's FORWARD policy is DROP) and loopback."""
    return {
        "cniVersion": "1.0.0",
        "name": "periph-node",
        "plugins": [
            {
                "type": "bridge",
                "bridge": BRIDGE,
                "isGateway": True,
                "ipMasq": True,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "dataDir": str(ipam_dir),
                    "ranges": [[{"subnet": POD_CIDR}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": True}},
            {"type": "firewall"},
        ],
    }


def kubeconfig(
    server: str, ca_file: Path, cert_file: Path, key_file: Path, user: str
) -> dict[str, Any]:
    """A kubeconfig authenticating with a client certificate signed by the cluster CA."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "periph", "cluster": {"server": server, "certificate-authority": str(ca_file)}}
        ],
        "users": [
            {
                "name": user,
                "user": {"client-certificate": str(cert_file), "client-key": str(key_file)},
            }
        ],
        "contexts": [{"name": "periph", "context": {"cluster": "periph", "user": user}}],
        "current-context": "periph",
    }


def kubelet_subject() -> str:
    """Client certificate subject of the kubelet (the Node authorizer's naming)."""
    return f"/O=system:nodes/CN=system:node:{NODE_NAME}"


PROXY_SUBJECT = "/CN=system:kube-proxy"
COREDNS_USER = "periph:coredns"
COREDNS_SUBJECT = f"/CN={COREDNS_USER}"


def kubelet_configuration(directory: Path, ca_file: Path) -> dict[str, Any]:
    """KubeletConfiguration for a cgroup v1 host, cgroupfs driver, state under ``directory``.

    Only clients with a certificate of the cluster CA get in (the apiserver presents
    kwokctl's admin certificate, see control_plane_patches); anonymous requests are refused.
    The kubelet listens on the node IP only, which nothing outside this host reaches.
    """
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "failCgroupV1": False,
        "cgroupDriver": "cgroupfs",
        "failSwapOn": False,
        "address": NODE_IP,
        "port": KUBELET_PORT,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": KUBELET_HEALTHZ_PORT,
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": False},
            "x509": {"clientCAFile": str(ca_file)},
        },
        "authorization": {"mode": "AlwaysAllow"},
        "clusterDNS": [NODE_IP],
        "clusterDomain": CLUSTER_DOMAIN,
        "resolvConf": str(directory / "resolv.conf"),
        "containerRuntimeEndpoint": f"unix://{containerd_socket()}",
        "podLogsDir": str(directory / "pod-logs"),
        "staticPodPath": str(directory / "manifests"),
        "registerWithTaints": [REAL_NODE_TAINT],
        "maxPods": 40,
        "serializeImagePulls": False,
        # A shared CI host: never evict test pods for the host's own disk or memory use.
        "evictionHard": {
            "memory.available": "1Mi",
            "nodefs.available": "1%",
            "imagefs.available": "1%",
        },
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "syncFrequency": "5s",
        "fileCheckFrequency": "5s",
        "nodeStatusReportFrequency": "10s",
        "shutdownGracePeriod": "0s",
        "containerLogMaxSize": "5Mi",
        "rotateCertificates": False,
        "serverTLSBootstrap": False,
    }


def kubelet_argv(binary: Path, directory: Path) -> list[str]:
    """kubelet command line; root dir and cert dir under ``directory``."""
    labels = ",".join(f"{k}={v}" for k, v in REAL_NODE_SELECTOR.items())
    return [
        str(binary),
        f"--config={directory / 'kubelet.yaml'}",
        f"--kubeconfig={directory / 'kubelet.kubeconfig'}",
        f"--root-dir={directory / 'kubelet'}",
        f"--cert-dir={directory / 'pki' / 'kubelet-serving'}",
        f"--node-ip={NODE_IP}",
        f"--hostname-override={NODE_NAME}",
        f"--node-labels={labels}",
        "--v=1",
    ]


def kube_proxy_configuration(kubeconfig_file: Path) -> dict[str, Any]:
    """iptables mode, changing no sysctl (conntrack limits 0, no localhost NodePorts)."""
    return {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "mode": "iptables",
        "clientConnection": {"kubeconfig": str(kubeconfig_file)},
        "hostnameOverride": NODE_NAME,
        "bindAddress": NODE_IP,
        "clusterCIDR": POD_CIDR,
        "metricsBindAddress": f"127.0.0.1:{PROXY_METRICS_PORT}",
        "healthzBindAddress": f"127.0.0.1:{PROXY_HEALTHZ_PORT}",
        "conntrack": {
            "maxPerCore": 0,
            "min": 0,
            "tcpEstablishedTimeout": "0s",
            "tcpCloseWaitTimeout": "0s",
        },
        "iptables": {"localhostNodePorts": False, "syncPeriod": "10s", "minSyncPeriod": "0s"},
        "nodePortAddresses": [f"{NODE_IP}/32"],
    }


def kube_proxy_argv(binary: Path, directory: Path) -> list[str]:
    return [str(binary), f"--config={directory / 'kube-proxy.yaml'}", "--v=1"]


def kube_proxy_cleanup_argv(binary: Path) -> list[str]:
    """kube-proxy removing every iptables rule and chain of its own."""
    return [str(binary), "--cleanup", "--v=1"]


def corefile(kubeconfig_file: Path, upstream: Sequence[str]) -> str:
    """CoreDNS answering cluster names from the API and forwarding the rest upstream."""
    forward = f"    forward . {' '.join(upstream)}\n" if upstream else ""
    return (
        f".:53 {{\n"
        f"    bind {NODE_IP}\n"
        "    errors\n"
        f"    health 127.0.0.1:{COREDNS_HEALTH_PORT}\n"
        f"    ready 127.0.0.1:{COREDNS_READY_PORT}\n"
        f"    kubernetes {CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {{\n"
        f"        kubeconfig {kubeconfig_file} periph\n"
        "        pods insecure\n"
        "        fallthrough in-addr.arpa ip6.arpa\n"
        "        ttl 5\n"
        "    }\n"
        "    cache 5\n"
        "    loadbalance\n"
        f"{forward}"
        "}\n"
    )


def coredns_argv(binary: Path, directory: Path) -> list[str]:
    return [str(binary), "-conf", str(directory / "Corefile")]


def upstream_nameservers(resolv_conf: str) -> list[str]:
    """Nameservers of the host's resolv.conf that pods can reach (never loopback ones)."""
    servers = []
    for line in resolv_conf.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver" and not parts[1].startswith("127."):
            servers.append(parts[1])
    return servers


def pod_resolv_conf(upstream: Sequence[str]) -> str:
    """resolv.conf the kubelet merges into pods for dnsPolicy Default (and the search path)."""
    return "".join(f"nameserver {s}\n" for s in upstream) or f"nameserver {NODE_IP}\n"


def storage_documents(volumes_dir: Path, count: int = LOCAL_VOLUMES) -> list[dict[str, Any]]:
    """A no-provisioner StorageClass and ``count`` local PVs pinned to the real node.

    WaitForFirstConsumer keeps a claim unbound until its pod is scheduled, so a claim of this
    class always ends on the real node; the class is not the default, so simulated workloads
    (kwok) keep their claims as they were.
    """
    storage_class = {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": STORAGE_CLASS},
        "provisioner": "kubernetes.io/no-provisioner",
        "volumeBindingMode": "WaitForFirstConsumer",
        "reclaimPolicy": "Delete",
    }
    affinity = {
        "required": {
            "nodeSelectorTerms": [
                {
                    "matchExpressions": [
                        {"key": "kubernetes.io/hostname", "operator": "In", "values": [NODE_NAME]}
                    ]
                }
            ]
        }
    }
    volumes = [
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": f"{STORAGE_CLASS}-{i}", "labels": {"periph.dev/local-pv": "true"}},
            "spec": {
                "capacity": {"storage": LOCAL_VOLUME_SIZE},
                "accessModes": ["ReadWriteOnce"],
                "persistentVolumeReclaimPolicy": "Retain",
                "storageClassName": STORAGE_CLASS,
                "local": {"path": str(volumes_dir / f"pv-{i}")},
                "nodeAffinity": affinity,
            },
        }
        for i in range(count)
    ]
    return [storage_class, *volumes]


def coredns_rbac_documents() -> list[dict[str, Any]]:
    """Read access for CoreDNS's client certificate (for clusters that authorize with RBAC)."""
    return [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "periph:coredns"},
            "rules": [
                {
                    "apiGroups": [""],
                    "resources": ["endpoints", "services", "pods", "namespaces"],
                    "verbs": ["list", "watch"],
                },
                {
                    "apiGroups": ["discovery.k8s.io"],
                    "resources": ["endpointslices"],
                    "verbs": ["list", "watch"],
                },
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "periph:coredns"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "periph:coredns",
            },
            "subjects": [
                {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": COREDNS_USER}
            ],
        },
    ]


def pull_secret_document(
    name: str, namespace: str, registry: str, username: str, password: str
) -> dict[str, Any]:
    """A kubernetes.io/dockerconfigjson Secret for the test registry."""
    auth = base64.b64encode(f"{username}:{password}".encode()).decode()
    config = {"auths": {registry: {"username": username, "password": password, "auth": auth}}}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "type": "kubernetes.io/dockerconfigjson",
        "stringData": {".dockerconfigjson": json.dumps(config)},
    }


def real_pod_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """``spec`` (a PodSpec) steered onto the real node: its selector and toleration added."""
    out = dict(spec)
    out["nodeSelector"] = {**dict(spec.get("nodeSelector") or {}), **REAL_NODE_SELECTOR}
    out["tolerations"] = [*list(spec.get("tolerations") or []), dict(REAL_NODE_TOLERATION)]
    return out


def control_plane_patches() -> list[dict[str, Any]]:
    """kwokctl componentsPatches that make room for a real node in the kwok cluster.

    - kwok manages only the nodes annotated ``kwok.x-k8s.io/node=fake`` (its own), so it
      never fights a kubelet over a Lease or force-deletes a real pod;
    - the apiserver reaches kubelets by InternalIP (the real node's name does not resolve),
      then Hostname (kwok's nodes only have ``localhost``), and advertises the node IP,
      where the relay forwards to its loopback port;
    - it presents kwokctl's admin certificate to kubelets, so the real kubelet can refuse
      anonymous requests.
    """
    pki = kcfg.cluster_dir() / "pki"
    return [
        {
            "name": "kwok-controller",
            "extraArgs": [
                {"key": "manage-all-nodes", "value": "false", "override": True},
                {"key": "manage-nodes-with-annotation-selector", "value": KWOK_NODE_ANNOTATION},
            ],
        },
        {
            "name": "kube-apiserver",
            "extraArgs": [
                {"key": "kubelet-preferred-address-types", "value": "InternalIP,Hostname"},
                {"key": "advertise-address", "value": NODE_IP},
                {"key": "service-cluster-ip-range", "value": SERVICE_CIDR},
                {"key": "kubelet-client-certificate", "value": str(pki / "admin.crt")},
                {"key": "kubelet-client-key", "value": str(pki / "admin.key")},
            ],
        },
    ]


def apiserver_cert_sans() -> list[str]:
    """Extra names of the apiserver certificate: the addresses pods use to reach it."""
    return [NODE_IP, KUBERNETES_SERVICE_IP]


def parse_sysctls(values: Mapping[str, str]) -> dict[str, str]:
    """Recorded sysctl values (missing keys dropped), as written to the state file."""
    return {k: v.strip() for k, v in values.items() if k in SYSCTLS and v.strip()}


def fingerprint(documents: Sequence[Any]) -> str:
    """Digest of the node's configuration, to restart it when a config changes."""
    return hashlib.sha256(json.dumps(list(documents), sort_keys=True).encode()).hexdigest()[:16]
