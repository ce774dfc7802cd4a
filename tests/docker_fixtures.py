"""The docker tests' fixtures: the real dockerd, a tagged app image, a compose project per test.

A plugin, not a module to import: the docker test modules load it with
``pytest_plugins = ["docker_fixtures"]``.
"""

from __future__ import annotations

import shutil
import uuid

import pytest
from docker_support import BUSYBOX, SOCKET, Compose


@pytest.fixture(scope="module")
def client():
    docker = pytest.importorskip("docker")
    if shutil.which("dockerd") is None:
        pytest.skip("dockerd not installed: run ./scripts/setup-services")
    try:
        api = docker.DockerClient(base_url=SOCKET, timeout=30)
        api.images.get(BUSYBOX)
    except docker.errors.DockerException as exc:
        pytest.fail(f"dockerd or {BUSYBOX} not available ({exc}): run ./scripts/setup-services")
    yield api
    api.close()


@pytest.fixture(scope="module")
def app_image(client):
    """``local/wr-<id>:v0.9.0`` and ``:v1.0.0``: busybox under the tags a release would carry."""
    repo = f"local/wr-{uuid.uuid4().hex[:8]}"
    image = client.images.get(BUSYBOX)
    for tag in ("v0.9.0", "v1.0.0"):
        image.tag(repo, tag)
    yield repo
    for tag in ("v0.9.0", "v1.0.0"):
        client.images.remove(f"{repo}:{tag}")


@pytest.fixture
def project(client):
    compose = Compose(client, f"wr{uuid.uuid4().hex[:10]}")
    yield compose
    compose.remove()
