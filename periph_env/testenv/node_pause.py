"""The kubelet's sandbox image, made locally: a ``docker save`` archive holding one binary.

registry.k8s.io is unreachable here, so the pause binary (compiled by build-node.sh from the
kubernetes module's own pause.c) goes into a ``FROM scratch`` image written byte by byte,
which ``ctr images import`` loads into periph's containerd. Pure: bytes in, bytes out.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile


def _add(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    info.mtime = 0
    tar.addfile(info, io.BytesIO(data))


def image_archive(pause_binary: bytes, reference: str) -> bytes:
    """A docker-archive tarball of an image whose only file is ``/pause``, tagged ``reference``."""
    layer_buf = io.BytesIO()
    with tarfile.open(fileobj=layer_buf, mode="w", format=tarfile.USTAR_FORMAT) as layer:
        _add(layer, "pause", pause_binary, 0o755)
    layer_bytes = layer_buf.getvalue()
    diff_id = "sha256:" + hashlib.sha256(layer_bytes).hexdigest()
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Entrypoint": ["/pause"], "User": "65535:65535"},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created_by": "periph testenv: pause.c built with gcc -static"}],
    }
    config_bytes = json.dumps(config, sort_keys=True).encode()
    config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"
    layer_name = diff_id.split(":", 1)[1] + "/layer.tar"
    manifest = [{"Config": config_name, "RepoTags": [reference], "Layers": [layer_name]}]
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        _add(tar, config_name, config_bytes)
        _add(tar, layer_name, layer_bytes)
        _add(tar, "manifest.json", json.dumps(manifest).encode())
    return out.getvalue()
