"""``mlnews export``: a transformer classifier folder -> an ONNX (optionally int8) model folder."""

from __future__ import annotations

import typer

from mlnews.cli.app import app


@app.command("export")
def export_cmd(
    model_dir: str = typer.Argument(..., metavar="MODEL_DIR", help="Transformer classifier folder (mlnews.json kind 'transformer')."),
    out: str = typer.Option(..., "--out", "-o", help="Output model folder (written atomically; replaced if it exists)."),
    onnx: bool = typer.Option(False, "--onnx", help="Export to ONNX (the only export format; required)."),
    int8: bool = typer.Option(False, "--int8", help="Quantise weights to int8 (ONNX Runtime dynamic quantisation)."),
    opset: int = typer.Option(17, "--opset", min=14, help="ONNX opset version."),
) -> None:
    """Export a trained transformer classifier to ONNX for fast CPU inference.

    The output folder is a model folder of its own (mlnews.json kind "onnx", model.onnx, tokenizer, labels, copied metrics and card) that Classifier.load, mlnews classify and mlnews serve accept. The export checks ONNX against torch on built-in sample headlines and prints the agreement.

    Example:

        mlnews export runs/e5-small --onnx --int8 --out runs/e5-small-onnx-int8

        mlnews classify --model runs/e5-small-onnx-int8 headlines.jsonl -o labelled.jsonl
    """
    import sys
    import time

    from mlnews.errors import InputError
    from mlnews.infer.onnx import export_onnx

    if not onnx:
        raise InputError("--onnx is required: ONNX is the only export format (add --int8 for int8 weights)")
    from mlnews.progress import StageProgress

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
