"""The command line: Typer only (parse -> call a pipeline -> render); the app is cli/app.py."""
