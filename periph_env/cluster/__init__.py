"""The dev stack on a Kubernetes namespace (``periph up --cluster``).

``translate``: compose model -> Kubernetes objects (pure); ``config``: ``[dev.cluster]``
in periph.toml; ``engine``: build, push, apply in dependency waves, wait Ready, status and
delete-by-label; ``forward``: port-forwards that follow a Service's pods; ``sync`` and
``watch``: hot reload into the pods (a replaced pod catches up); ``rebuild``: a rebuild
rule builds, pushes and rolls one Deployment; ``logs``: ``logs``/``restart --cluster``.
The core: never imports Textual.
"""
