"""CPU and memory of the cluster stack's pods (``periph_env.cluster.stats``), from recorded
kubelet Summary API and metrics API answers, through a fake of the ``Kube``'s REST client.

On the real node (the kubelet's own Summary API through the API server's proxy):
tests/integration/test_cluster_backend.py.
"""

from __future__ import annotations

import json
import threading
from decimal import Decimal

from kubernetes.client.exceptions import ApiException

from periph_env.cluster.stats import (
    PodReader,
    PodStatsModel,
    memory_limit,
    quantity,
    summary_usage,
)
from periph_env.deploy import kube_reach as reach
from periph_env.stack.models import ServiceStatus
from periph_env.stack.stats import cpu_text, human_bytes

NS = "peripheral-dev-ann"
SELECTOR = "app.kubernetes.io/managed-by=periph,periph.dev/dev-stack=ann"
ENDPOINT = reach.Endpoint("dev", "https://10.0.0.1:6443")
SUMMARY = "/api/v1/nodes/{}/proxy/stats/summary"
METRICS = f"/apis/metrics.k8s.io/v1beta1/namespaces/{NS}/pods"
PODS = f"/api/v1/namespaces/{NS}/pods"


def pod(name, service, node="node-a", limit="256Mi", phase="Running", **meta):
    """A pod of ann's stack as the API lists it (the fields the reader uses)."""
    resources = {"limits": {"memory": limit}} if limit else {}
    return {
        "metadata": {"name": name, "namespace": NS, "labels": {"periph.dev/service": service},
                     **meta},
        "spec": {"nodeName": node, "containers": [{"name": service, "resources": resources}]},
        "status": {"phase": phase},
    }  # fmt: skip


def summary_pod(name, nano_cores, working_set, namespace=NS):
    """One pod of a kubelet stats/summary answer, as recorded from the real node's kubelet
    (v1.36; the fields the reader does not use trimmed)."""
    return {
        "podRef": {"name": name, "namespace": namespace, "uid": "73945df9"},
        "startTime": "2026-12-03T10:26:35Z",
        "containers": [
            {
                "name": "backend",
                "startTime": "2026-12-03T10:26:35Z",
                "cpu": {"time": "2026-12-03T10:27:11Z", "usageNanoCores": nano_cores,
                        "usageCoreNanoSeconds": 274264759},
                "memory": {"time": "2026-12-03T10:27:11Z", "availableBytes": 258580480,
                           "usageBytes": working_set + 4096, "workingSetBytes": working_set,
                           "rssBytes": 9302016, "pageFaults": 3818, "majorPageFaults": 0},
            }
        ],
        # The pod-level figures lag the containers' (here still zero, as recorded).
        "cpu": {"time": "2026-12-03T10:26:53Z", "usageNanoCores": 0},
        "memory": {"time": "2026-12-03T10:26:53Z", "workingSetBytes": 0},
    }  # fmt: skip


def summary(*pods):
    return {"node": {"nodeName": "node-a"}, "pods": list(pods)}


def api_error(status, reason, message=""):
    """The error the ``Kube``'s client raises for an error status (``KubeApiError``)."""
    exc = ApiException(status=status, reason=reason)
    exc.body = json.dumps({"kind": "Status", "message": message})
    return reach.api_error(exc, ENDPOINT, str)


class FakeRest:
    """``Kube.rest``: answers by path (a dict, or an exception to raise); records calls."""

    def __init__(self, answers):
        self.answers = answers
        self.calls: list[tuple[str, dict | None, object]] = []

    def path(self, api_version, kind, name="", namespace=None):
        assert (api_version, kind) == ("v1", "Pod")
        return f"/api/v1/namespaces/{namespace}/pods"

    def request(self, method, path, query=None, timeout=None):
        assert method == "GET"
        self.calls.append((path, query, timeout))
        answer = self.answers[path]
        if isinstance(answer, Exception):
            raise answer
        return answer


class FakeKube:
    def __init__(self, answers):
        self.context = "dev"
        self.rest = FakeRest(answers)

    def mask(self, text):
        return text.replace("hunter2", "****")


def reader(answers, notices=None):
    return PodReader(FakeKube(answers), NS, SELECTOR, None if notices is None else notices.append)


def no_metrics():
    return api_error(404, "Not Found", "the server could not find the requested resource")


def row(service, state="running", pod_name=None):
    return ServiceStatus(service, state=state, container_id=pod_name or f"{service}-1")


# -- what a reading shows --------------------------------------------------------------


def without_metrics(pods: list, per_node: dict[str, list]) -> dict:
    """A cluster with no metrics API: the stack's ``pods`` and each node's Summary API."""
    answers = {PODS: {"items": pods}, METRICS: no_metrics()}
    for node, entries in per_node.items():
        answers[SUMMARY.format(node)] = summary(*entries)
    return answers


def test_without_a_metrics_api_the_kubelet_summary_gives_percent_of_one_core_and_working_set():
    answers = without_metrics(
        [pod("backend-1", "backend")], {"node-a": [summary_pod("backend-1", 3_163_150, 9_846_784)]}
    )
    sample = reader(answers).read(["backend"])["backend"]
    assert cpu_text(sample.cpu) == "0.3%"  # 3.16 ms of CPU a second
    assert human_bytes(sample.mem) == "9M" and sample.mem == 9_846_784
    assert sample.mem_limit == 256 * 2**20
    assert sample.to_json() == {
        "cpu_percent": 0.3, "mem_bytes": 9_846_784, "mem_limit_bytes": 268_435_456,
    }  # fmt: skip


def test_a_busy_pod_shows_over_100_percent_like_a_local_container_on_two_cores():
    answers = without_metrics(
        [pod("worker-1", "worker")],
        {"node-a": [summary_pod("worker-1", 1_500_000_000, 50 * 2**20)]},
    )
    assert cpu_text(reader(answers).read(["worker"])["worker"].cpu) == "150%"


def test_the_metrics_api_is_used_when_the_cluster_serves_it_and_no_node_is_asked():
    listing = {
        "kind": "PodMetricsList", "apiVersion": "metrics.k8s.io/v1beta1",
        "items": [{"metadata": {"name": "backend-1", "namespace": NS},
                   "timestamp": "2026-12-03T10:27:00Z", "window": "15s",
                   "containers": [{"name": "backend",
                                   "usage": {"cpu": "25m", "memory": "12288Ki"}}]}],
    }  # fmt: skip
    answers = {PODS: {"items": [pod("backend-1", "backend")]}, METRICS: listing}
    got = reader(answers)
    sample = got.read(["backend"])["backend"]
    assert (cpu_text(sample.cpu), sample.mem) == ("2.5%", 12 * 2**20)
    assert not any("proxy/stats" in path for path, _q, _t in got.kube.rest.calls)


def test_a_cluster_without_a_metrics_api_is_asked_for_it_once_then_only_the_kubelet():
    answers = without_metrics(
        [pod("backend-1", "backend")], {"node-a": [summary_pod("backend-1", 1, 1)]}
    )
    got = reader(answers)
    got.read(["backend"])
    got.read(["backend"])
    paths = [path for path, _q, _t in got.kube.rest.calls]
    assert paths.count(METRICS) == 1 and paths.count(SUMMARY.format("node-a")) == 2


def test_several_pods_of_one_service_are_summed_across_their_nodes():
    answers = {
        PODS: {"items": [pod("worker-a", "worker", "node-a"), pod("worker-b", "worker", "node-b")]},
        METRICS: no_metrics(),
        SUMMARY.format("node-a"): summary(summary_pod("worker-a", 10_000_000, 100)),
        SUMMARY.format("node-b"): summary(summary_pod("worker-b", 30_000_000, 200)),
    }
    sample = reader(answers).read(["worker"])["worker"]
    assert (cpu_text(sample.cpu), sample.mem, sample.mem_limit) == ("4.0%", 300, 2 * 256 * 2**20)


def test_only_the_stacks_pods_are_listed_and_a_pod_of_another_namespace_on_the_node_is_not_read():
    answers = {
        PODS: {"items": [pod("backend-1", "backend")]},
        METRICS: no_metrics(),
        SUMMARY.format("node-a"): summary(
            summary_pod("backend-1", 1_000_000, 100), summary_pod("backend-1", 9, 9, "other-ns")
        ),
    }
    got = reader(answers)
    assert got.read(["backend"])["backend"].mem == 100
    assert got.kube.rest.calls[0][1] == {"labelSelector": SELECTOR}


def test_a_container_without_a_memory_limit_makes_the_limit_unknown():
    assert memory_limit(pod("db-1", "db", limit=None)) is None
    assert memory_limit(pod("db-1", "db", limit="1Gi")) == 2**30


def test_a_pod_the_kubelet_has_not_measured_yet_has_no_sample_and_no_notice():
    notices: list[str] = []
    answers = without_metrics(
        [pod("backend-1", "backend"), pod("worker-1", "worker")],
        {"node-a": [summary_pod("backend-1", 1, 1)]},
    )
    assert set(reader(answers, notices).read(["backend", "worker"])) == {"backend"}
    assert notices == []


def test_a_pending_or_terminating_pod_is_not_read():
    answers = {
        PODS: {"items": [pod("worker-1", "worker", phase="Pending"),
                         pod("backend-0", "backend", deletionTimestamp="2026-12-03T10:00:00Z")]},
        METRICS: no_metrics(),
    }  # fmt: skip
    got = reader(answers)
    assert got.read(["worker", "backend"]) == {}
    assert [p for p, _q, _t in got.kube.rest.calls] == [PODS]  # no node asked for nothing


def test_a_cpu_figure_missing_from_the_summary_shows_as_unknown_with_the_memory():
    entry = summary_pod("backend-1", 0, 4096)
    del entry["containers"][0]["cpu"]["usageNanoCores"]
    assert summary_usage(summary(entry)) == {(NS, "backend-1"): (None, 4096)}


def test_quantities_read_as_kubernetes_writes_them():
    assert [quantity(q) for q in ("250m", "512Mi", "1.5G", "12345n", "1e3", "2")] == [
        Decimal("0.25"), 512 * 2**20, 1_500_000_000, Decimal("0.000012345"), 1000, 2,
    ]  # fmt: skip
    assert quantity("lots") is None and quantity(None) is None


# -- when the kubelet's numbers cannot be had --------------------------------------------


def test_a_forbidden_node_proxy_leaves_the_cells_empty_and_says_so_once_naming_rbac():
    notices: list[str] = []
    forbidden = api_error(403, "Forbidden", 'nodes "node-a" is forbidden: User "ann" cannot '
                          'get resource "nodes/proxy"')  # fmt: skip
    answers = {
        PODS: {"items": [pod("backend-1", "backend")]},
        METRICS: api_error(403, "Forbidden"),
        SUMMARY.format("node-a"): forbidden,
    }
    got = reader(answers, notices)
    assert got.read(["backend"]) == {}
    assert got.read(["backend"]) == {}
    assert len(notices) == 1, notices
    assert "node-a" in notices[0] and "nodes/proxy" in notices[0] and "RBAC" in notices[0]
    assert "show -" in notices[0] and "Traceback" not in notices[0]


def test_a_node_that_does_not_answer_is_said_once_and_its_neighbours_still_show():
    notices: list[str] = []
    two_nodes = [pod("backend-1", "backend", "node-a"), pod("worker-1", "worker", "node-b")]
    answers = {
        PODS: {"items": two_nodes},
        METRICS: no_metrics(),
        SUMMARY.format("node-a"): reach.ClusterUnreachable(ENDPOINT, "did not answer within 1 s"),
        SUMMARY.format("node-b"): summary(summary_pod("worker-1", 1_000_000, 2048)),
    }
    got = reader(answers, notices)
    for _ in range(3):
        assert set(got.read(["backend", "worker"])) == {"worker"}
    assert len(notices) == 1 and "node node-a" in notices[0]
    assert "did not answer within 1 s" in notices[0]


def test_every_stats_request_of_the_poll_is_bounded_below_the_polling_period():
    answers = without_metrics(
        [pod("backend-1", "backend")], {"node-a": [summary_pod("backend-1", 1, 1)]}
    )
    got = reader(answers)
    got.read(["backend"])
    assert all(t is not None and sum(t) <= 2.0 for _p, _q, t in got.kube.rest.calls)


# -- the model the Stack area reads ------------------------------------------------------


class CountingReader:
    """A ``PodReader`` stand-in: each ``read`` answers from ``answers`` in turn."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.asked: list[set[str]] = []
        self.read_once = threading.Event()

    def read(self, services):
        self.asked.append(set(services))
        self.read_once.set()
        return self.answers.pop(0) if self.answers else {}

    def say_once(self, key, line):
        raise AssertionError(line)


def sample(mem):
    from periph_env.stack.stats import Sample

    return Sample(1.0, mem, None, 0.0)


def test_the_model_reads_only_the_running_services_and_keeps_their_history():
    got = CountingReader({"backend": sample(1)}, {"backend": sample(2)})
    model = PodStatsModel(got, autostart=False)
    model.update([row("backend"), row("migrate", state="exited"), row("db", state="created")])
    model.poll()
    model.poll()
    assert got.asked == [{"backend"}, {"backend"}]
    assert [s.mem for s in model.history("backend")] == [1, 2]
    assert model.latest()["backend"].mem == 2


def test_a_service_not_read_this_time_shows_no_old_figure():
    got = CountingReader({"backend": sample(1), "worker": sample(5)}, {"worker": sample(6)})
    model = PodStatsModel(got, autostart=False)
    model.update([row("backend"), row("worker")])
    model.poll()
    model.poll()
    assert set(model.latest()) == {"worker"} and model.history("backend") == []


def test_a_service_that_stops_running_loses_its_samples():
    got = CountingReader({"backend": sample(1)})
    model = PodStatsModel(got, autostart=False)
    model.update([row("backend")])
    model.poll()
    model.update([row("backend", state="exited")])
    assert model.latest() == {} and model.followed() == set()
    model.stop()


def test_the_first_running_service_starts_one_thread_and_stop_wakes_and_joins_it():
    got = CountingReader({"backend": sample(1)})
    model = PodStatsModel(got, every=3600)  # a reading an hour apart: stop must not wait
    before = set(threading.enumerate())
    model.update([row("backend")])
    model.update([row("backend"), row("worker")])
    assert got.read_once.wait(10)
    started = [t for t in set(threading.enumerate()) - before if t.name == "periph-pod-stats"]
    assert len(started) == 1
    model.stop()
    assert not started[0].is_alive()
    model.update([row("backend")])  # after stop: nothing starts again
    assert not any(t.name == "periph-pod-stats" and t.is_alive() for t in threading.enumerate())


def test_a_cluster_that_does_not_answer_leaves_the_model_as_it_was():
    class Down(CountingReader):
        def read(self, services):
            raise reach.ClusterUnreachable(ENDPOINT, "refused the connection")

    model = PodStatsModel(Down(), autostart=False)
    model.update([row("backend")])
    model.poll()  # no exception out of the thread's step
    assert model.latest() == {}
