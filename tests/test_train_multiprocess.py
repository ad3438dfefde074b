"""Multi-process training: ``accelerate launch`` with the repo's 2-process CPU config (gloo).

Runs the documented command end to end on a tiny random BERT (built on the fly, no downloads):
both processes train (world size 2, recorded in metrics.json), only the main process writes the
model folder, and the folder is complete and loads for inference.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from test_train_tinybert import LABELS, build_tiny_bert, build_tiny_dataset

REPO = Path(__file__).resolve().parent.parent
ACCELERATE_CONFIG = REPO / "configs" / "accelerate" / "cpu_2proc.yaml"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_accelerate_config_is_two_processes_one_machine():
    import yaml

    cfg = yaml.safe_load(ACCELERATE_CONFIG.read_text(encoding="utf-8"))
    assert cfg["num_processes"] == 2 and cfg["num_machines"] == 1
    assert cfg["mixed_precision"] == "no"


def test_accelerate_launch_trains_on_two_processes(tmp_path):
    pytest.importorskip("accelerate")
    data = build_tiny_dataset(tmp_path / "ds")
    bert = build_tiny_bert(tmp_path / "bert")
    config = tmp_path / "cfg.yaml"
    config.write_text(
        "task: classification\n"
        f"data:\n  path: {data}\n"
        f"model:\n  kind: transformer\n  name_or_path: {bert}\n  max_length: 32\n"
        "train:\n  max_steps: 6\n  batch_size: 8\n  learning_rate: 0.005\n  logging_steps: 3\n"
        "  eval_strategy: steps\n  eval_steps: 3\n  warmup_ratio: 0.0\n  num_threads: 1\n",
        encoding="utf-8",
    )
    out = tmp_path / "model"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    cmd = [
        sys.executable, "-m", "accelerate.commands.launch",
        "--config_file", str(ACCELERATE_CONFIG), "--main_process_port", str(_free_port()),
        "-m", "mlnews", "train", str(config), "--out", str(out),
    ]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]

    names = {p.name for p in out.iterdir()}
    assert {"mlnews.json", "config.json", "model.safetensors", "tokenizer.json", "train_config.yaml",
            "metrics.json", "confusion_matrix.png", "confusion_matrix.csv", "README.md"} <= names
    assert not [n for n in names if n.startswith(".") or n == "checkpoints"], f"leftovers in the model folder: {names}"
    assert not [n for n in names if n.endswith((".bin", ".pt", ".pth", ".pkl"))], "no pickled files in a model folder"
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["processes"] == 2, "both processes joined the run (torch.distributed world size 2)"
    assert metrics["n"] == 30 and sum(v["support"] for v in metrics["per_class"].values()) == 30

    from mlnews.infer.classifier import Classifier

    preds = Classifier.load(out).predict(["рубль банк", "матч гол"], top_k=3)
    assert all(p["label"] in LABELS and len(p["top_k"]) == 3 for p in preds)
