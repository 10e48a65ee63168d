"""``backbeat service install|uninstall [--dry-run]``: run the daemon in the background at login
(a systemd user unit, a launchd agent, or the Task Scheduler steps on Windows; see ``daemon.service``)."""

from __future__ import annotations

import argparse

from . import add_command


def _install(args: argparse.Namespace) -> int:
    from backbeat.daemon import service
    from backbeat.daemon.controls import find_map

    extra: tuple[str, ...] = ()
    if args.controller:
        find_map(args.controller)  # a typo fails here, not at every login
        extra = ("--controller", args.controller)
    ctx = service.current_context(extra)
    service.apply(service.plan("install", ctx), dry_run=args.dry_run)
    return 0


def _uninstall(args: argparse.Namespace) -> int:
    from backbeat.daemon import service

    ctx = service.current_context()
    installed = service.service_file(ctx)
    if installed is not None and not installed.exists() and not args.dry_run:
        print(f"backbeat's service is not installed (no {installed})")
        return 0
    service.apply(service.plan("uninstall", ctx), dry_run=args.dry_run)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = add_command(sub, "service")
    actions = parser.add_subparsers(dest="service_action", metavar="ACTION", required=True)
    install = actions.add_parser("install", help="write a systemd user unit (Linux) or launchd agent (macOS); Windows: print the steps")
    install.add_argument("--controller", metavar="MAP", help="controller map for the service's daemon (e.g. generic-pads)")
    install.add_argument("--dry-run", action="store_true", help="print what would be written and run; change nothing")
    install.set_defaults(run=_install)
    uninstall = actions.add_parser("uninstall", help="stop the service and remove what install wrote")
    uninstall.add_argument("--dry-run", action="store_true", help="print what would be removed and run; change nothing")
    uninstall.set_defaults(run=_uninstall)
