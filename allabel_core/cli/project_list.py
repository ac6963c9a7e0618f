"""``allabel project list``: the projects in the folder, newest first."""

from __future__ import annotations

from .project_cmd import add_projects_dir


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("list", help="list the projects in the projects folder",
                              description="List the projects in the projects folder, most recently changed first.")
    add_projects_dir(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..project.files import list_projects, projects_folder

    infos = list_projects(args.projects_dir)
    if not infos:
        print(f"no projects in {projects_folder(args.projects_dir)}")
        return 0
    width = max(len(i.path.stem) for i in infos)
    for i in infos:
        if i.error:
            print(f"{i.path.stem:<{width}}  {i.error}")
        else:
            print(f"{i.path.stem:<{width}}  {i.confirmed}/{i.pool_size} confirmed  {i.name}")
    return 0
