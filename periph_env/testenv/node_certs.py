"""Client certificates for the real node's components, signed by the test cluster's CA."""

from __future__ import annotations

from pathlib import Path

from periph_env.common.process import run
from periph_env.testenv import kube_config as kcfg
from periph_env.testenv import node_config as ncfg


def ca_paths() -> tuple[Path, Path]:
    """The cluster CA (kwokctl's pki): certificate and key."""
    pki = kcfg.cluster_dir() / "pki"
    return pki / "ca.crt", pki / "ca.key"


def issue_cert(name: str, subject: str, ca: tuple[Path, Path]) -> tuple[Path, Path]:
    """A client certificate signed by the cluster CA (kwokctl's pki), made with openssl."""
    pki = ncfg.node_dir() / "pki"
    pki.mkdir(parents=True, exist_ok=True, mode=0o700)
    crt, key, csr = pki / f"{name}.crt", pki / f"{name}.key", pki / f"{name}.csr"
    run(
        ["openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-subj", subject, "-out", str(csr)],
        timeout=60,
    )  # fmt: skip
    run(
        ["openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca[0]), "-CAkey", str(ca[1]),
         "-CAcreateserial", "-CAserial", str(pki / "ca.srl"), "-days", "365", "-out", str(crt)],
        timeout=60,
    )  # fmt: skip
    csr.unlink(missing_ok=True)
    key.chmod(0o600)
    return crt, key
