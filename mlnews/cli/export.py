"""``mlnews export``: a transformer or embedding classifier folder -> an ONNX (optionally int8) model folder."""

from __future__ import annotations

from typing import Optional

import typer

from mlnews.cli.app import app


@app.command("export")
def export_cmd(
    model_dir: str = typer.Argument(..., metavar="MODEL_DIR", help="Classifier folder of kind transformer or embedding."),
    out: Optional[str] = typer.Option(
        None, "--out", "-o", help="Output model folder (written atomically; replaced if it exists). Default: MODEL_DIR/onnx, "
        "which `mlnews classify --model MODEL_DIR` (and serve, Ray, Classifier.load) then use automatically."),
    onnx: bool = typer.Option(False, "--onnx", help="Export to ONNX (the only export format; required)."),
    int8: bool = typer.Option(False, "--int8", help="Quantise weights to int8 (ONNX Runtime dynamic quantisation)."),
    opset: int = typer.Option(17, "--opset", min=14, help="ONNX opset version."),
) -> None:
    """Export a trained transformer or embedding classifier to ONNX for fast CPU inference.

    By default the export goes into MODEL_DIR/onnx, and every command that loads MODEL_DIR with the default --backend auto then runs it (the fastest backend the folder supports) and says so. An embedding model exports as one graph: encoder, mean pooling and the logistic-regression head.

    The output folder is a model folder of its own (mlnews.json kind "onnx", model.onnx, tokenizer, labels, copied metrics and card) that Classifier.load, mlnews classify and mlnews serve accept. The export checks ONNX against torch on built-in sample headlines and prints the agreement.

    Example:

        mlnews export runs/e5-small --onnx --int8          # -> runs/e5-small/onnx

        mlnews classify --model runs/e5-small headlines.jsonl -o labelled.jsonl   # runs the int8 export

        mlnews export runs/e5-embed --onnx --int8 --out runs/e5-embed-int8   # a folder of its own
    """
    import sys
    import time

    from mlnews.errors import InputError
    from mlnews.infer.onnx import export_onnx

    if not onnx:
        raise InputError("--onnx is required: ONNX is the only export format (add --int8 for int8 weights)")
    from mlnews.progress import StageProgress

    if out is None:
        from pathlib import Path

        from mlnews.modelfolder import ONNX_DIR

        out = str(Path(model_dir) / ONNX_DIR)
    t0 = time.perf_counter()
    with StageProgress("mlnews export", unit="steps", summary=False) as progress:  # each step, with its time
        manifest = export_onnx(model_dir, out, int8=int8, opset=opset, progress=progress)
    check = manifest.extra["onnx"]["check"]
    print(
        f"mlnews export: wrote {out} (ONNX opset {opset}, {'int8' if int8 else 'fp32'} weights) in "
        f"{time.perf_counter() - t0:.1f}s; check vs torch on {check['texts']} sample texts: "
        f"top-1 agreement {check['top1_agreement']:.0%}, max |prob diff| {check['max_abs_prob_diff']:.4f}",
        file=sys.stderr,
    )
