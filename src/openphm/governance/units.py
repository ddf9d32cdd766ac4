"""The data protection officer's scheduled job, as the operating system runs it: a systemd
service and timer (and the equivalent cron line) that run `phm schedule run` every hour.

Hourly, so that a landing batch is destroyed within an hour of its retention period ending and
the programme closes within an hour of its end date; `Persistent=true` runs a missed slot at
boot. The service runs as the account the DPO's job is given (docs/schedule.md), with the
hardening systemd offers for a job that only touches the workspace.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path


def phm_command() -> str:
    """The `phm` beside the running Python, so the timer runs this installation."""
    return str(Path(sys.executable).with_name("phm"))


def systemd_units(workspace: Path, user: str) -> dict[str, str]:
    """{file name: contents} for /etc/systemd/system, and the cron alternative."""
    command = f"{phm_command()} schedule run {shlex.quote(str(workspace))} " \
        "--role data-protection-officer"  # fmt: skip
    service = "\n".join(
        [
            "[Unit]",
            "Description=OpenPHM: keep the promises that fall due (retention, expiry, close)",
            "",
            "[Service]",
            "Type=oneshot",
            f"User={user}",
            f"ExecStart={command}",
            "NoNewPrivileges=true",
            "PrivateTmp=true",
            "ProtectSystem=strict",
            f"ReadWritePaths={shlex.quote(str(workspace))}",
            "",
        ]
    )
    timer = "\n".join(
        [
            "[Unit]",
            "Description=Run the OpenPHM schedule every hour",
            "",
            "[Timer]",
            "OnCalendar=hourly",
            "Persistent=true",
            "RandomizedDelaySec=60",
            "",
            "[Install]",
            "WantedBy=timers.target",
            "",
        ]
    )
    cron = f"0 * * * * {user} {command}\n"
    return {
        "openphm-schedule.service": service,
        "openphm-schedule.timer": timer,
        "/etc/cron.d/openphm-schedule (instead of systemd)": cron,
    }
