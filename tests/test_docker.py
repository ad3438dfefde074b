"""The Dockerfile agrees with the README, pyproject and docs/docker.md, and its command line serves.

No Docker engine here: instead of building the image, its ENTRYPOINT + CMD run as a local process
(the model mount replaced by a tiny model folder) until ``/ready`` answers.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from infer_helpers import tiny_tfidf_dir
from serve_helpers import free_port, running_server

REPO = Path(__file__).resolve().parent.parent
DOCKERFILE = (REPO / "Dockerfile").read_text(encoding="utf-8")


def _instruction(name: str) -> list[str]:
    """The JSON (exec form) argument list of a Dockerfile instruction."""
    m = re.search(rf"^{name}\s+(\[.*\])\s*$", DOCKERFILE, re.M)
    assert m, f"Dockerfile has no exec-form {name}"
    return json.loads(m.group(1))


def _docker_runs() -> list[list[str]]:
    """The `docker run` command lines of docs/docker.md (continuation lines joined)."""
    text = (REPO / "docs" / "docker.md").read_text(encoding="utf-8").replace("\\\n", " ")
    return [shlex.split(line.strip()) for line in text.splitlines() if line.strip().startswith("docker run ")]


def test_install_lines_agree_with_readme_and_pyproject():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    pins = set(re.findall(r"torch==([\w.]+)", readme))
    assert len(pins) == 1, pins
    assert re.findall(r"torch==([\w.]+)", DOCKERFILE) == list(pins)  # the same torch as the README installs
    extras = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    used = re.findall(r'pip install "\.\[([\w,]+)\]"', DOCKERFILE)
    assert used, "the Dockerfile installs the package with extras"
    for group in used[0].split(","):
        assert group in extras, f"extra {group!r} is not in pyproject.toml"
    assert any("prometheus-client" in d for d in extras["serve"]) and any("fastapi" in d for d in extras["serve"])
    assert "mlnews = \"mlnews.cli:main\"" in (REPO / "pyproject.toml").read_text(encoding="utf-8")


def test_image_is_slim_non_root_and_serves():
    assert re.search(r"^FROM python:3\.\d+-slim$", DOCKERFILE, re.M)
    users = re.findall(r"^USER\s+(\S+)$", DOCKERFILE, re.M)
    assert users and users[-1] not in ("root", "0")
    assert "download.pytorch.org/whl/cpu" in DOCKERFILE  # CPU wheels only
    assert _instruction("ENTRYPOINT")[:2] == ["mlnews", "serve"]
    assert "/ready" in DOCKERFILE.split("HEALTHCHECK", 1)[1].splitlines()[1]


def test_docs_run_lines_mount_what_the_dockerfile_expects():
    cmd = _instruction("CMD")
    classifier = cmd[cmd.index("--classifier") + 1]
    port = re.search(r"^EXPOSE\s+(\d+)$", DOCKERFILE, re.M).group(1)
    runs = _docker_runs()
    assert runs, "docs/docker.md shows a docker run line"
    for argv in runs:
        mounts = [argv[i + 1].split(":")[1] for i, a in enumerate(argv) if a == "-v"]
        assert classifier in mounts, argv
        assert f"{port}:{port}" in argv
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "docs/docker.md" in readme and "docker run" in readme
    for line in [x for x in readme.splitlines() if "docker run" in x]:
        assert f":{classifier}" in line and f"{port}:{port}" in line


def test_entrypoint_and_cmd_serve_a_mounted_model(tmp_path):
    httpx = pytest.importorskip("httpx")
    model = tiny_tfidf_dir(tmp_path / "models" / "classifier")
    port = free_port()
    argv = _instruction("ENTRYPOINT") + _instruction("CMD")
    argv = [str(model) if a == "/models/classifier" else a for a in argv]
    argv[argv.index("--port") + 1] = str(port)
    argv[argv.index("--host") + 1] = "127.0.0.1"  # 0.0.0.0 in the image; a test binds loopback only
    assert argv[0] == "mlnews"
    with running_server([*argv[1:], "log_level=warning"], port, env={"HF_HUB_OFFLINE": "1"}) as url:
        r = httpx.post(f"{url}/summarise", json={"text": "Первое предложение. Второе предложение."})
        assert r.status_code == 200 and r.json()["method"].startswith("lead")  # the CMD's --summariser


def test_a_bad_model_mount_is_a_one_line_error(tmp_path):
    port = free_port()
    (tmp_path / "empty").mkdir()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "mlnews", "serve", "--classifier", str(tmp_path / "empty"),
                           "--host", "127.0.0.1", "--port", str(port), "log_level=warning"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    errors = [line for line in proc.stderr.splitlines() if line.startswith("mlnews: error: ")]
    assert len(errors) == 1 and str(tmp_path / "empty") in errors[0] and "Traceback" not in proc.stderr
