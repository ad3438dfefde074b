"""``mlnews version``: the package version and the versions of the libraries it runs on."""

from __future__ import annotations

import typer

from mlnews.cli.app import app


@app.command("version")
def version_cmd() -> None:
    """Print the mlnews version and the versions of its main libraries."""
    import importlib.metadata as md

    from mlnews import __version__

    typer.echo(f"mlnews {__version__}")
    for pkg in ("torch", "transformers", "datasets", "scikit-learn"):
        try:
            typer.echo(f"  {pkg} {md.version(pkg)}")
        except md.PackageNotFoundError:
            typer.echo(f"  {pkg} (not installed)")
