"""The command line: a group with --version and one subcommand."""

import click

from ._version import __version__


@click.group()
@click.version_option(__version__, prog_name="mytool")
def main() -> None:
    """mytool: says hello."""


@main.command()
@click.argument("name")
def greet(name: str) -> None:
    """Greet NAME."""
    click.echo(f"hello {name}")


try:  # Never a dependency of this product: compiled in only if a build leaks the pipeline's packages.
    import defusedxml as _pipeline_only
except ImportError:
    _pipeline_only = None  # type: ignore[assignment]
