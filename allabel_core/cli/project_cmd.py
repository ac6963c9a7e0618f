"""``allabel project``: a labeling project from the command line, start to finish.

    allabel project new NAME --data FILE [--schema schema.json] [--text-column COL] [--projects-dir DIR]
    allabel project import NAME --labels FILE
    allabel project predict NAME
    allabel project export NAME --out FILE [--include confirmed|predicted|all]
    allabel project list

NAME is the project's name as ``project list`` shows it (its file name in
the projects folder without ``.allabel``, or the name it was created with).
The projects folder is ``--projects-dir``, else ``$ALLABEL_PROJECTS_DIR``,
else ``./projects`` -- the same folder the dashboard uses, so a project made
here opens there. Each subcommand lives in its own module exposing
``add_parser(subparsers)`` and ``run(args) -> int``; bad input fails with one
line and changes nothing.
"""

from __future__ import annotations

import argparse
import importlib

# Subcommand -> module in this package, imported when the parser is built
# (each imports its heavy dependencies only when it runs).
SUBCOMMANDS = {
    "new": "project_new",
    "import": "project_import",
    "predict": "project_predict",
    "export": "project_export",
    "list": "project_list",
}


def add_projects_dir(p: argparse.ArgumentParser) -> None:
    """The ``--projects-dir`` option every subcommand shares."""
    p.add_argument("--projects-dir", metavar="DIR",
                   help="folder of project files (default: $ALLABEL_PROJECTS_DIR, else ./projects)")


def open_named(args):
    """The project ``args.name`` in ``args.projects_dir``; ``ProjectError``
    (listing the projects there) if there is none by that name."""
    from ..project import Project
    from ..project.files import find_project

    return Project.open(find_project(args.name, args.projects_dir))


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "project",
        help="create, fill, predict and export a labeling project",
        description="A labeling project from the command line: the same files the dashboard opens.",
    )
    sub = p.add_subparsers(dest="project_command", required=True, metavar="SUBCOMMAND")
    for module in SUBCOMMANDS.values():
        try:
            mod = importlib.import_module(f"{__package__}.{module}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__package__}.{module}":
                raise
            continue
        mod.add_parser(sub)
