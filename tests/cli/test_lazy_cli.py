"""``accord --help`` lists every command without importing the command modules (under 0.5 s)."""

from __future__ import annotations

import inspect
import subprocess
import sys

import typer._click as click
import typer.main

from accord.cli import main


def _first_paragraph(text: str) -> str:
    return " ".join(inspect.cleandoc(text).split("\n\n")[0].split())


def test_the_help_table_is_what_the_modules_register():
    """The table ``accord --help`` is drawn from names every command the modules register, in
    the module the command comes from, with the first paragraph of the command's own help."""
    registered: dict[str, tuple[str, str]] = {}
    for module in main.COMMAND_MODULES:
        sub = typer.Typer()
        __import__(module, fromlist=["register"]).register(sub)
        for name, cmd in typer.main.get_group(sub).commands.items():
            registered[name] = (module, _first_paragraph(cmd.short_help or cmd.help or ""))
    assert registered == main.COMMANDS


def test_every_listed_command_resolves_and_runs_its_help():
    group = typer.main.get_command(main.app)
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        assert cmd is not None and cmd.name == name
    assert group.get_command(ctx, "nope") is None


def test_help_imports_no_command_module_and_no_markdown_renderer():
    code = ("import sys; from accord.cli.main import main; sys.argv = ['accord', '--help']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "mods = [m for m in sys.modules if m.startswith('accord.cli.') and m != 'accord.cli.main'"
            " or m in ('typer.rich_utils', 'rich.markdown', 'markdown_it')]\n"
            "print('LOADED', sorted(mods))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "LOADED []" in r.stdout, r.stdout[-300:]
    for name in main.COMMANDS:  # every command is listed, with its help
        assert f" {name} " in r.stdout
    assert "--verbose" in r.stdout and "Keep AI systems following human values" in r.stdout


def test_a_mistyped_command_is_one_sentence_with_a_suggestion():
    from typer.testing import CliRunner

    r = CliRunner().invoke(main.app, ["chek"])
    assert r.exit_code == 2
    assert "No such command 'chek'" in r.output and "Did you mean 'check'?" in r.output
