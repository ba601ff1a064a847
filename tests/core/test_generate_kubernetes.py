"""A generated project's Kubernetes manifests: valid for Kubernetes, and safe by default."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import kubernetes_validate
import pytest
import yaml

from mockloop.generate import GeneratedProject, generate_project
from mockloop.generate.kubernetes import kubernetes_name
from tests.conftest import PETSTORE
from tests.waiting import wait_for_health

# The oldest Kubernetes the manifests promise to fit, and the newest the package knows.
KUBERNETES_VERSIONS = ("1.29", kubernetes_validate.latest_version())

_HEALTH_SPEC: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "Health Owner", "version": "1"},
    "paths": {
        "/health": {
            "get": {"responses": {"200": {"description": "the API's own health"}}},
        },
    },
}
_PROXY_WITH_CREDENTIALS = {
    "mode": "proxy",
    "target_url": "https://api.example.com",
    "auth": {"auth_type": "bearer_token", "credentials": {"token": "s3cr3t"}},
}


def _manifests(project: GeneratedProject) -> dict[str, list[dict[str, Any]]]:
    """Every YAML document of `k8s/`, by file name."""
    return {
        path.name: [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
        for path in sorted((project.path / "k8s").glob("*.yaml"))
    }


def _one(project: GeneratedProject, name: str) -> dict[str, Any]:
    (document,) = _manifests(project)[name]
    return document


def _container(project: GeneratedProject) -> dict[str, Any]:
    (container,) = _one(project, "deployment.yaml")["spec"]["template"]["spec"]["containers"]
    return container


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any connection attempt fails the test: the schemas must come from the package."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.parametrize(
    "variant",
    ["plain", "credentials", "defines-health"],
)
def test_every_manifest_validates_against_kubernetes_schemas(
    variant: str, tmp_path: Path, no_network: None
) -> None:
    if variant == "plain":
        project = generate_project(PETSTORE, output_dir_name=str(tmp_path / "p"))
    elif variant == "credentials":
        project = generate_project(
            PETSTORE, output_dir_name=str(tmp_path / "p"), proxy=_PROXY_WITH_CREDENTIALS
        )
    else:
        project = generate_project(_HEALTH_SPEC, output_dir_name=str(tmp_path / "p"))

    manifests = _manifests(project)
    assert set(manifests) == {
        "deployment.yaml",
        "service.yaml",
        "admin-service.yaml",
        "kustomization.yaml",
    }
    assert {f"k8s/{name}" for name in manifests} | {"k8s/README.md"} <= set(project.files)
    validated = []
    for name, documents in manifests.items():
        for document in documents:
            if document["kind"] == "Kustomization":
                continue  # not a cluster resource: no schema; checked below
            for version in KUBERNETES_VERSIONS:
                # strict: an unknown or misspelt field fails too
                kubernetes_validate.validate(document, version, strict=True)
            validated.append((name, document["kind"]))
    assert sorted(validated) == [
        ("admin-service.yaml", "Service"),
        ("deployment.yaml", "Deployment"),
        ("service.yaml", "Service"),
    ]
    kustomization = _one(project, "kustomization.yaml")
    assert kustomization["resources"] == ["deployment.yaml", "service.yaml"]
    assert all((project.path / "k8s" / name).is_file() for name in kustomization["resources"])
    image = _container(project)["image"]
    assert [f"{entry['name']}:latest" for entry in kustomization["images"]] == [image]


def test_invalid_manifests_fail_the_validation() -> None:
    """The check can fail: a misspelt field and a port as text are both refused."""
    project = generate_project(PETSTORE, output_dir_name="broken")
    deployment = _one(project, "deployment.yaml")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    container["readinessProbe"]["httpGet"]["paht"] = "/health"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[0], strict=True)
    service = _one(project, "service.yaml")
    service["spec"]["ports"][0]["port"] = "eighty"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(service, KUBERNETES_VERSIONS[0], strict=True)


def test_service_exposes_the_business_port_only_and_probes_ask_health() -> None:
    project = generate_project(PETSTORE, business_port=9100, admin_port=9200)
    container = _container(project)
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports == {"http": 9100, "admin": 9200}

    service = _one(project, "service.yaml")
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["ports"] == [
        {"name": "http", "port": 9100, "targetPort": "http", "protocol": "TCP"}
    ]
    assert (
        service["spec"]["selector"]
        == _one(project, "deployment.yaml")["spec"]["selector"]["matchLabels"]
    )
    text = (project.path / "k8s" / "service.yaml").read_text()
    assert "9200" not in text and "admin" not in service["spec"]["ports"][0]["targetPort"]
    # The admin port binds the pod's loopback: no Service or pod IP reaches it.
    assert container["command"][-2:] == ["--admin-host", "127.0.0.1"]
    admin_service = _one(project, "admin-service.yaml")
    assert admin_service["spec"]["ports"][0]["targetPort"] == "admin"

    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/health", "port": "http"}, probe

    assert set(container["resources"]) == {"requests", "limits"}
    pod = _one(project, "deployment.yaml")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    mounts = {mount["mountPath"] for mount in container["volumeMounts"]}
    assert {"/app/data", "/app/.mockloop", "/tmp"} <= mounts  # every path the mock writes


def test_replicas_read_the_database_url_from_a_secret() -> None:
    project = generate_project(PETSTORE, output_dir_name="replicas")
    name = kubernetes_name(project.name)
    env = {item["name"]: item for item in _container(project)["env"]}
    assert env["MOCKLOOP_DATABASE_URL"]["valueFrom"] == {
        "secretKeyRef": {"name": f"{name}-database", "key": "url", "optional": True}
    }
    assert env["MOCKLOOP_ADMIN_TOKEN"]["valueFrom"]["secretKeyRef"]["name"] == f"{name}-admin"
    readme = (project.path / "k8s" / "README.md").read_text()
    assert f"kubectl create secret generic {name}-database" in readme
    assert "kubectl port-forward deployment/" in readme
    assert "## Kubernetes" in (project.path / "README.md").read_text()


def test_a_description_with_its_own_health_moves_the_probes_to_the_admin_port() -> None:
    project = generate_project(_HEALTH_SPEC, business_port=9300)
    container = _container(project)
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        command = container[probe]["exec"]["command"]
        assert "http://127.0.0.1:9301/health" in command[-1], probe
        assert "httpGet" not in container[probe]


def test_credentials_are_mounted_from_a_secret_not_baked_in() -> None:
    project = generate_project(PETSTORE, output_dir_name="creds", proxy=_PROXY_WITH_CREDENTIALS)
    name = kubernetes_name(project.name)
    pod = _one(project, "deployment.yaml")["spec"]["template"]["spec"]
    config_volume = next(volume for volume in pod["volumes"] if volume["name"] == "config")
    assert config_volume["secret"] == {"secretName": f"{name}-config"}
    mount = next(m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "config")
    assert (mount["mountPath"], mount["subPath"]) == ("/app/mockloop.yaml", "mockloop.yaml")
    assert "s3cr3t" not in "".join(
        (project.path / "k8s" / file).read_text() for file in ("deployment.yaml", "README.md")
    )
    assert any("k8s/deployment.yaml mounts it from a Secret" in w for w in project.warnings)


@pytest.mark.parametrize(
    ("project_name", "expected"),
    [
        ("mockloop-pet-store", "mockloop-pet-store"),
        ("My_API.v2", "my-api-v2"),
        ("2024-api", "mock-2024-api"),
        ("___", "mock"),
        ("a" * 80, "a" * 50),
    ],
)
def test_kubernetes_names_are_dns_labels(project_name: str, expected: str) -> None:
    assert kubernetes_name(project_name) == expected


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes a test starts; each is killed with its whole group at the end."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_main_py_takes_the_admin_token_from_the_environment(
    processes: list[subprocess.Popen[bytes]],
) -> None:
    """The Deployment hands MOCKLOOP_ADMIN_TOKEN from a Secret; main.py must enforce it."""
    project = generate_project(PETSTORE, output_dir_name="token")
    port, admin_port = _free_port(), _free_port()
    process = subprocess.Popen(
        [sys.executable, "main.py", "--port", str(port), "--admin-port", str(admin_port)],
        cwd=project.path,
        env={**os.environ, "MOCKLOOP_ADMIN_TOKEN": "k8s-token"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    processes.append(process)
    admin = f"http://127.0.0.1:{admin_port}"
    wait_for_health(admin, process)
    assert httpx.get(f"{admin}/api/operations").status_code == 401
    headers = {"Authorization": "Bearer k8s-token"}
    assert httpx.get(f"{admin}/api/operations", headers=headers).status_code == 200
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0
