"""The Typer front end: one module per command; rendering lives here, logic in ``core``."""
