"""The ``accord`` command line (Typer), thin over the library."""
