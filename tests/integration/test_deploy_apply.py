"""Server-side apply through the client on the kwok cluster: who owns a field decides.

periph applies as field manager ``periph`` and forces only over what its own work leaves
behind (a rollback's ``kubectl rollout undo``, the HPA's replica count). A field another
manager set is a conflict the user must settle: the deploy fails naming the field and the
manager, and changes nothing of that object.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_deploy_harness import (
    ImageSet,
    commit,
    deploy_env,
    drop_namespace,
    make_project,
    new_namespace,
    periph_cli,
    pin,
    push_images,
)

pytestmark = [pytest.mark.k8s, pytest.mark.registry]

OTHER_SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: backend
spec:
  ports:
    - name: http
      port: 5058
      targetPort: 9999
"""


@pytest.fixture(scope="module")
def images(registry: Any, base_images: Any) -> ImageSet:
    return push_images(registry)


@pytest.fixture
def deployed(
    kube_cluster: Any, registry: Any, images: ImageSet, tmp_path: Path
) -> Iterator[tuple[Path, str, dict[str, str]]]:
    """demo deployed once (v1) into a fresh namespace."""
    ns = new_namespace(kube_cluster)
    try:
        root = make_project(tmp_path, "demo", ns, kube_cluster.context, images, "<webhook>")
        env = deploy_env(kube_cluster, registry, tmp_path / "xdg")
        first = periph_cli(root, env, "deploy", "demo")
        assert first.returncode == 0, first.stdout + first.stderr
        yield root, ns, env
    finally:
        drop_namespace(kube_cluster, ns)


def test_a_field_another_manager_took_fails_the_deploy_naming_field_and_manager(
    deployed, kube_cluster
) -> None:
    root, ns, env = deployed
    kube_cluster.kubectl(
        "apply", "--server-side", "--field-manager=other", "--force-conflicts",
        "-n", ns, "-f", "-", input=OTHER_SERVICE,
    )  # fmt: skip

    again = periph_cli(root, env, "deploy", "demo")

    said = again.stdout + again.stderr
    assert again.returncode == 1, said
    assert "Service/backend" in said
    assert ".spec.ports[" in said and "targetPort" in said
    assert "'other'" in said
    assert "Traceback" not in said
    service = json.loads(
        kube_cluster.kubectl("get", "service", "backend", "-n", ns, "-o", "json").stdout
    )
    assert service["spec"]["ports"][0]["targetPort"] == 9999  # left as the other manager set it


def test_a_deploy_after_a_rollback_takes_back_what_rollout_undo_changed(
    deployed, kube_cluster, images
) -> None:
    root, ns, env = deployed
    pin(root, "demo", images, "v2")
    commit(root, "v2")
    assert periph_cli(root, env, "deploy", "demo").returncode == 0
    back = periph_cli(root, env, "rollback", "demo")
    assert back.returncode == 0, back.stdout + back.stderr
    commit(root, "again")

    again = periph_cli(root, env, "deploy", "demo")

    assert again.returncode == 0, again.stdout + again.stderr
    deployment = json.loads(
        kube_cluster.kubectl("get", "deployment", "backend", "-n", ns, "-o", "json").stdout
    )
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == images.ref("v2", "backend")
