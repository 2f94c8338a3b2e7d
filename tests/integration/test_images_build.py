"""`periph build|push|images` on the real engine and the test registry (with auth).

Each test gets its own small project in tmp_path (a git repo with tiny services FROM the
debian stand-in) and its own repository prefix in the registry, so tests never see each
other's images; local images are removed afterwards.
"""

from __future__ import annotations

import io
import json
import secrets
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from periph_env.cli import main
from periph_env.images import read_pins, read_record
from periph_env.images.pipeline import BuildOptions, build
from periph_env.testenv.registry import RegistryInfo

REPO = Path(__file__).resolve().parents[2]
MANIFEST_ACCEPT = "application/vnd.docker.distribution.manifest.v2+json"
ALPHA = "FROM debian:bookworm-slim\nCOPY hello.txt /hello.txt\nRUN cat /hello.txt\n"
BETA = "FROM debian:bookworm-slim\nRUN echo building beta\nCOPY app/ /app/\n"


@dataclass
class Project:
    root: Path
    registry: str  # "<address>/<unique prefix>"
    address: str
    username: str
    password: str

    def write(self, rel: str, text: str) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def git(self, *args: str) -> str:
        return subprocess.run(
            ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args],
            cwd=self.root, check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip

    def commit(self) -> None:
        self.git("add", "-A")
        self.git("commit", "-qm", "change", "--allow-empty")

    def repository(self, service: str) -> str:
        return f"{self.registry}/peripheral-{service}"

    def remote_digest(self, service: str, tag: str) -> str | None:
        path = self.repository(service).split("/", 1)[1]
        response = httpx.head(
            f"http://{self.address}/v2/{path}/manifests/{tag}",
            headers={"Accept": MANIFEST_ACCEPT},
            auth=(self.username, self.password),
        )
        return response.headers.get("Docker-Content-Digest") if response.is_success else None


def make_project(root: Path, registry: RegistryInfo, services: dict[str, str]) -> Project:
    """A git repo with periph.toml and one tiny service per ``{name: Dockerfile.prod}``."""
    prefix = f"periphtest-{secrets.token_hex(4)}"
    project = Project(
        root, f"{registry.address}/{prefix}", registry.address,
        registry.username, registry.password,
    )  # fmt: skip
    names = ", ".join(f'"{s}"' for s in services)
    project.write(
        "periph.toml",
        f'[images]\nregistry = "{project.registry}"\nservices = [{names}]\n\n'
        '[environments.demo]\nbranch = "demo"\ntag = "demo"\noverlay = "k8s/overlays/demo"\n',
    )
    project.write("compose/compose.yaml", "services: {}\n")
    project.write(".env.example", "A=1\n")
    project.write(".gitignore", ".env\n.env.*\n!.env.example\n")
    for name, dockerfile in services.items():
        if dockerfile:
            project.write(f"services/{name}/Dockerfile.prod", dockerfile)
        project.write(f"services/{name}/hello.txt", f"hello from {name}\n")
        project.write(f"services/{name}/app/main.txt", "v1\n")
    release = root / "k8s/overlays/demo/release"
    release.mkdir(parents=True)
    shutil.copy(REPO / "k8s/overlays/demo/release/kustomization.yaml", release)
    project.git("init", "-q", "-b", "main")
    project.commit()
    return project


def remove_local_images(project: Project) -> None:
    listed = subprocess.run(
        ["docker", "images", "--format", "{{.Repository}}:{{.Tag}}"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    mine = [ref for ref in listed if ref.startswith(project.registry + "/")]
    if mine:
        subprocess.run(["docker", "image", "rm", "-f", *mine], capture_output=True)


@pytest.fixture
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """periph's cache and the Docker client config of this test only (no stored logins)."""
    monkeypatch.setenv("PERIPH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    (tmp_path / "docker-config").mkdir()
    monkeypatch.delenv("PERIPH_REGISTRY", raising=False)
    monkeypatch.delenv("PERIPH_PROJECT", raising=False)
    monkeypatch.delenv("DOCKER_USERNAME", raising=False)
    monkeypatch.delenv("DOCKER_PASSWORD", raising=False)
    return tmp_path


@pytest.fixture
def project_factory(
    isolated_env: Path, registry: RegistryInfo, base_images, monkeypatch
) -> Iterator:
    made: list[Project] = []

    def make(services: dict[str, str], *, login: bool = True) -> Project:
        root = isolated_env / f"project{len(made)}"
        root.mkdir()
        project = make_project(root, registry, services)
        made.append(project)
        monkeypatch.chdir(root)
        if login:
            monkeypatch.setenv("DOCKER_USERNAME", registry.username)
            monkeypatch.setenv("DOCKER_PASSWORD", registry.password)
        return project

    yield make
    for project in made:
        remove_local_images(project)


def periph(capsys, *args: str) -> tuple[int, str, str]:
    """Run the CLI in-process; (exit code, stdout, stderr)."""
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def by_service(stdout: str) -> dict[str, dict]:
    return {r["service"]: r for r in json.loads(stdout)}


def test_a_second_build_reports_every_service_unchanged(project_factory, capsys):
    project_factory({"alpha": ALPHA, "beta": BETA})
    code, out, _ = periph(capsys, "build", "--format", "json")
    assert code == 0 and {r["status"] for r in by_service(out).values()} == {"built"}

    code, out, err = periph(capsys, "build", "--format", "json")

    results = by_service(out)
    assert code == 0
    assert {s: r["status"] for s, r in results.items()} == {
        "alpha": "unchanged",
        "beta": "unchanged",
    }
    assert all(r["where"] == "local" and r["changed"] == [] for r in results.values())
    assert "unchanged" in err


def test_an_edit_rebuilds_only_its_service_and_names_the_changed_file(project_factory, capsys):
    project = project_factory({"alpha": ALPHA, "beta": BETA})
    periph(capsys, "build", "--format", "json")
    project.write("services/beta/app/main.txt", "v2\n")
    project.commit()

    code, out, _ = periph(capsys, "build", "--format", "json")

    results = by_service(out)
    assert code == 0
    assert results["alpha"]["status"] == "unchanged"
    assert results["beta"]["status"] == "built"
    assert results["beta"]["changed"] == ["app/main.txt"]


def test_images_are_tagged_by_branch_commit_and_content(project_factory, capsys):
    project = project_factory({"alpha": ALPHA})
    sha = project.git("rev-parse", "HEAD").strip()

    code, out, _ = periph(capsys, "build", "--branch", "feature/login", "--format", "json")

    result = by_service(out)["alpha"]
    repo = project.repository("alpha")
    assert code == 0
    assert result["tags"] == [
        f"{repo}:{result['content_tag']}",
        f"{repo}:feature-login",
        f"{repo}:{sha}",
    ]
    ids = {
        subprocess.run(
            ["docker", "image", "inspect", "-f", "{{.Id}}", ref],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
        for ref in result["tags"]
    }  # fmt: skip
    assert ids == {result["image_id"]}


def test_a_missing_dockerfile_is_named_and_the_others_still_build(project_factory, capsys):
    project_factory({"alpha": ALPHA, "ghost": ""})

    code, out, err = periph(capsys, "build", "--format", "json")

    results = by_service(out)
    assert code == 1
    assert results["alpha"]["status"] == "built"
    assert results["ghost"]["status"] == "failed"
    assert "services/ghost/Dockerfile.prod: no such Dockerfile" in results["ghost"]["error"]
    assert "services/ghost/Dockerfile.prod" in err


def test_a_failing_step_reports_the_step_and_log_tail_while_others_finish(project_factory, capsys):
    broken = (
        "FROM debian:bookworm-slim\nRUN echo fine\n"
        "RUN echo compiling-widget-7 && echo 'widget.c:3: error' && exit 3\n"
    )
    project_factory({"alpha": ALPHA, "broken": broken, "beta": BETA})

    code, out, err = periph(capsys, "build", "--format", "json")

    results = by_service(out)
    assert code == 1
    assert results["alpha"]["status"] == "built" and results["beta"]["status"] == "built"
    failed = results["broken"]
    assert failed["status"] == "failed"
    assert failed["step"].startswith("step 3/") and "exit 3" in failed["step"]
    assert "widget.c:3: error" in failed["log_tail"]
    assert "non-zero code: 3" in failed["error"]
    assert "FAILED at step 3/" in err and "widget.c:3: error" in err


def test_push_records_the_digest_the_registry_serves_for_every_tag(project_factory, capsys):
    project = project_factory({"alpha": ALPHA})

    code, out, _ = periph(capsys, "build", "--push", "--format", "json")

    result = by_service(out)["alpha"]
    assert code == 0 and result["digest"].startswith("sha256:")
    for ref in result["tags"]:
        assert project.remote_digest("alpha", ref.rsplit(":", 1)[1]) == result["digest"]
    assert read_record(project.root)["services"]["alpha"]["digest"] == result["digest"]


def test_a_fresh_runner_finds_unchanged_images_in_the_registry(project_factory, capsys):
    project = project_factory({"alpha": ALPHA, "beta": BETA})
    code, out, _ = periph(capsys, "build", "--push", "--format", "json")
    assert code == 0
    pushed = {s: r["digest"] for s, r in by_service(out).items()}
    remove_local_images(project)

    code, out, _ = periph(capsys, "build", "--format", "json")

    results = by_service(out)
    assert code == 0
    assert {s: (r["status"], r["where"]) for s, r in results.items()} == {
        "alpha": ("unchanged", "registry"),
        "beta": ("unchanged", "registry"),
    }
    assert {s: r["digest"] for s, r in results.items()} == pushed


def test_wrong_registry_credentials_give_a_clear_message_and_no_secret(
    project_factory, capsys, monkeypatch
):
    project = project_factory({"alpha": ALPHA})
    wrong = "wrong-" + secrets.token_hex(12)
    monkeypatch.setenv("DOCKER_PASSWORD", wrong)

    code, out, err = periph(capsys, "build", "--push", "--format", "json")

    assert code == 1
    assert "refused the credentials" in err and "DOCKER_USERNAME/DOCKER_PASSWORD" in err
    assert wrong not in out + err and project.password not in out + err


def test_push_without_any_credentials_says_how_to_log_in(project_factory, capsys):
    project_factory({"alpha": ALPHA}, login=False)

    code, _, err = periph(capsys, "build", "--push")

    assert code == 1
    assert "requires credentials" in err and "docker login" in err


def test_push_command_pushes_the_recorded_build(project_factory, capsys):
    project = project_factory({"alpha": ALPHA})
    periph(capsys, "build")

    code, out, _ = periph(capsys, "push", "--format", "json")

    result = by_service(out)["alpha"]
    assert code == 0 and result["status"] == "pushed"
    assert project.remote_digest("alpha", "main") == result["digest"]


def test_release_tags_from_a_dirty_tree_are_refused_unless_allowed(project_factory, capsys):
    project = project_factory({"alpha": ALPHA})
    project.write("services/alpha/hello.txt", "uncommitted\n")

    code, out, err = periph(capsys, "build", "--branch", "demo")

    assert code == 1
    assert "refusing to build demo images from a dirty work tree" in err
    assert "services/alpha/hello.txt" in err and "--allow-dirty" in err
    code, out, _ = periph(capsys, "build", "--branch", "demo", "--allow-dirty", "--format", "json")
    assert code == 0
    assert by_service(out)["alpha"]["tags"][2].endswith("-dirty")


def test_pin_writes_the_pushed_digests_into_the_release_component(project_factory, capsys):
    project = project_factory({"alpha": ALPHA})
    release = project.root / "k8s/overlays/demo/release/kustomization.yaml"
    comments = [ln for ln in release.read_text().splitlines() if ln.startswith("#")]

    code, out, err = periph(capsys, "build", "--pin", "demo", "--format", "json")

    digest = by_service(out)["alpha"]["digest"]
    assert code == 0 and f"pinned 1 image(s) for demo in {release}" in err
    assert read_pins(project.root, "demo") == {"alpha": f"{project.repository('alpha')}@{digest}"}
    assert all(c in release.read_text() for c in comments)


def test_images_lists_local_and_remote_tags_digests_and_sizes(project_factory, capsys):
    project_factory({"alpha": ALPHA})
    code, out, _ = periph(capsys, "build", "--push", "--format", "json")
    digest = by_service(out)["alpha"]["digest"]

    code, out, _ = periph(capsys, "images", "--format", "json")

    (alpha,) = json.loads(out)
    assert code == 0 and alpha["service"] == "alpha" and alpha["remote_error"] is None
    assert "main" in alpha["local"][0]["tags"] and alpha["local"][0]["size"] > 0
    remote = alpha["remote"][0]
    assert remote["digest"] == digest and "main" in remote["tags"]
    assert remote["size"] > 0 and remote["age_seconds"] is not None


# -- secrets never reach an image ------------------------------------------------------


def image_bytes_contain(ref: str, needle: bytes) -> list[str]:
    """Members of every layer of ``ref`` (from `docker save`) whose bytes contain ``needle``."""
    hits = []
    saved = subprocess.Popen(["docker", "save", ref], stdout=subprocess.PIPE)
    assert saved.stdout is not None
    with tarfile.open(fileobj=saved.stdout, mode="r|") as outer:
        for member in outer:
            data = outer.extractfile(member).read() if member.isfile() else b""
            if needle in data:
                hits.append(member.name)
            if member.name.endswith("layer.tar") and data:
                with tarfile.open(fileobj=io.BytesIO(data)) as layer:
                    for inner in layer.getmembers():
                        if inner.isfile() and needle in layer.extractfile(inner).read():
                            hits.append(f"{member.name}:{inner.name}")
    saved.wait()
    return hits


def test_env_file_secrets_reach_no_layer_and_no_history(project_factory, capsys):
    marker = "periph-marker-" + secrets.token_hex(12)
    copy_all = "FROM debian:bookworm-slim\nCOPY . /app/\nRUN ls -la /app\n"
    project = project_factory({"leaky": copy_all})
    project.write("services/leaky/.dockerignore", "**/.env\n**/.env.*\n!**/.env.example\n")
    project.commit()
    project.write("services/leaky/.env", f"JWT_SECRET={marker}\n")
    project.write("services/leaky/.env.local", f"STRIPE_SECRET_KEY={marker}\n")
    project.write(".env", f"JWT_SECRET={marker}\n")

    code, out, err = periph(capsys, "build", "-v", "--format", "json")

    ref = by_service(out)["leaky"]["tags"][0]
    assert code == 0 and marker not in out + err
    history = subprocess.run(
        ["docker", "history", "--no-trunc", ref], capture_output=True, text=True, check=True
    ).stdout
    assert marker not in history
    assert image_bytes_contain(ref, marker.encode()) == []


def test_a_context_that_would_send_an_env_file_is_refused(project_factory, capsys):
    marker = "periph-marker-" + secrets.token_hex(12)
    project = project_factory(
        {"alpha": ALPHA, "leaky": "FROM debian:bookworm-slim\nCOPY . /app/\n"}
    )
    project.write("services/leaky/.env.production", f"JWT_SECRET={marker}\n")

    code, out, err = periph(capsys, "build", "--format", "json")

    results = by_service(out)
    assert code == 1 and results["alpha"]["status"] == "built"
    assert results["leaky"]["status"] == "failed"
    assert "services/leaky/.env.production would enter the build context" in err
    assert marker not in out + err
    listed = subprocess.run(
        ["docker", "images", "-q", project.repository("leaky")],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert listed.strip() == ""


def test_build_events_stream_per_service_and_step(project_factory):
    project = project_factory({"alpha": ALPHA, "beta": BETA})

    events = list(build(project.root, BuildOptions(jobs=2)))

    kinds = {(e.service, type(e).__name__) for e in events}
    for service in ("alpha", "beta"):
        assert {
            (service, k) for k in ("Planned", "BuildStarted", "StepStarted", "Built", "Done")
        } <= kinds
    assert type(events[-1]).__name__ == "Done"


def test_a_missing_base_image_fails_that_service_naming_it(project_factory, capsys):
    project = project_factory({"alpha": ALPHA})
    base = f"{project.address}/periphtest-nothing-{secrets.token_hex(3)}/base:1"
    project.write("services/orphan/Dockerfile.prod", f"FROM {base}\nRUN true\n")
    project.write(
        "periph.toml",
        (project.root / "periph.toml").read_text().replace('"alpha"]', '"alpha", "orphan"]'),
    )
    project.commit()

    code, out, _ = periph(capsys, "build", "--format", "json")

    results = by_service(out)
    assert code == 1 and results["alpha"]["status"] == "built"
    assert f"base image {base} is not available locally" in results["orphan"]["error"]


def test_images_with_wrong_credentials_reports_the_registry_refusal_without_secret(
    project_factory, capsys, monkeypatch
):
    project_factory({"alpha": ALPHA})
    wrong = "wrong-" + secrets.token_hex(12)
    monkeypatch.setenv("DOCKER_PASSWORD", wrong)

    code, out, err = periph(capsys, "images", "--format", "json")

    (alpha,) = json.loads(out)
    assert code == 1 and alpha["local"] == []  # the listing is printed, the failure counted
    assert "refused the credentials" in alpha["remote_error"]
    assert wrong not in out + err
