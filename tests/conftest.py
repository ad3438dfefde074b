"""Shared fixtures: paths to the repo, the bundled sample and ../shared (skipped when absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("MLNEWS_SHARED", REPO.parent / "shared"))

# Keep the test suite off any hub and inside its own cache unless told otherwise.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = SHARED / "data"
    if not path.is_dir():
        pytest.skip(f"{path} is absent: the third-party corpora are not bundled with the repo")
    return path


@pytest.fixture(scope="session")
def seed_page() -> Path:
    path = SHARED / "seed" / "000_d04839ea0ce42844.txt"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    return path
