"""Render several kustomizations with one ``kubectl kustomize`` process.

A deploy needs the overlay, its ``persistent`` and ``migrate`` kustomizations (and
``k8s/monitoring`` where it exists): one kubectl process each was three to four processes
and ~0.5 s of CPU each on a loaded machine. Here they are rendered together: a temporary
kustomization lists one wrapper per directory, each wrapper lists its directory as its
only resource and adds the annotation ``periph.dev/render-part: <index>`` to every object's
own metadata (not to pod templates). The objects are split back by that annotation, which
is then removed.

Each part renders as it does alone: generators, namespaces, labels and patches run inside
its own kustomization, and kustomize's content hashes cover data, not annotations
(``tests/unit/deploy/test_render.py`` compares both ways for both overlays).

Where one build cannot stand for separate ones, the parts are rendered one by one, as
before (one process each; any error is then the directory's own):

- two parts render the same object (an overlay that still holds its Namespace): kustomize
  refuses a duplicate id;
- any other build error.

Known difference, by design of kustomize: its name-reference fix runs over the whole
build, so a part that names an object another part renames (a generator's hash suffix, a
``namePrefix``) gets the new name, where alone it would keep a name nothing renders.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import yaml

from periph_env.deploy.manifests import Obj
from periph_env.errors import PeriphError

PART_ANNOTATION = "periph.dev/render-part"

_WRAPPER = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - {resource}
# Only the objects' own metadata: pod templates stay as rendered.
transformers:
  - |-
    apiVersion: builtin
    kind: AnnotationsTransformer
    metadata:
      name: periph-render-part
    annotations:
      {annotation}: "{index}"
    fieldSpecs:
      - path: metadata/annotations
        create: true
"""


def render_all(directories: Sequence[str | Path], run: Callable[[str], str]) -> list[list[Obj]]:
    """The objects of each directory, in its order, rendered by one ``run`` when possible.

    ``run(directory)`` renders one kustomization to YAML (``kubectl kustomize``) and raises
    a PeriphError when it fails; the error of a directory rendered alone propagates.
    """
    if len(directories) > 1:
        with tempfile.TemporaryDirectory(prefix="periph-render-") as tmp:
            try:
                return _split(run(_combined(Path(tmp), directories)), len(directories))
            except (PeriphError, ValueError):
                pass  # rendered one by one below: each error is then its directory's own
    return [_objects(run(str(d))) for d in directories]


def _combined(tmp: Path, directories: Sequence[str | Path]) -> str:
    """Write the wrapper kustomizations into ``tmp``; returns the directory to render."""
    top = ["apiVersion: kustomize.config.k8s.io/v1beta1", "kind: Kustomization", "resources:"]
    for index, directory in enumerate(directories):
        wrapper = tmp / f"part{index}"
        wrapper.mkdir()
        # kustomize refuses an absolute path as a kustomization root: relative it is.
        resource = os.path.relpath(Path(directory).resolve(), wrapper.resolve())
        # Quoted (a JSON string is YAML): a path may hold "#", ": " or a leading "*".
        resource = json.dumps(resource)
        (wrapper / "kustomization.yaml").write_text(
            _WRAPPER.format(resource=resource, annotation=PART_ANNOTATION, index=index)
        )
        top.append(f"  - part{index}")
    (tmp / "kustomization.yaml").write_text("\n".join(top) + "\n")
    return str(tmp)


def _objects(text: str) -> list[Obj]:
    return [d for d in yaml.safe_load_all(text) if d]


def _split(text: str, count: int) -> list[list[Obj]]:
    """Objects by their part annotation (removed); ValueError if one lacks it."""
    parts: list[list[Obj]] = [[] for _ in range(count)]
    for obj in _objects(text):
        metadata = obj.get("metadata") or {}
        annotations = metadata.get("annotations") or {}
        index = annotations.pop(PART_ANNOTATION, None)
        if index is None or not str(index).isdigit() or int(index) >= count:
            raise ValueError(f"an object without its part: {obj.get('kind')}")
        if not annotations:
            # The wrapper created the map: an object that had none gets none back.
            metadata.pop("annotations", None)
        parts[int(index)].append(obj)
    return parts
