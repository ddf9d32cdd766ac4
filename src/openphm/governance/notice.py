"""The patient-facing privacy notice, written from the programme's own configuration, so that
what the notice tells patients and what the system does can never disagree (transparency).

Reads programme.toml (through the workspace); writes a Markdown notice into the outputs zone.
Plain English, short sentences, no jargon a patient would need explained.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from openphm.governance.remains import NOTICE
from openphm.programme.config import ProgrammeConfig, SourceKind

if TYPE_CHECKING:
    from openphm.governance.audit import Actor
    from openphm.programme.workspace import Workspace


def write_notice(ws: Workspace, actor: Actor, out: Path | None = None) -> Path:
    """Write the notice to `out` (default: WORKSPACE/outputs/privacy-notice.md) and audit it
    (programme.notice); where it was written. The caller authorises."""
    path = out or ws.zone("outputs") / NOTICE
    path.write_text(privacy_notice(ws.config))
    ws.audit.record(actor, "programme.notice", writes=(str(path.name),))
    return path


def privacy_notice(config: ProgrammeConfig) -> str:
    programme = config.programme
    kinds = sorted({source.kind for source in config.sources}, key=list(SourceKind).index)
    purposes = [p.label for p in programme.purposes]
    lines = [
        f"# How we use your information: {programme.name}",
        "",
        f"Your GP practice is taking part in a population health management programme that runs "
        f"from {programme.start_date:%-d %B %Y} to {programme.end_date:%-d %B %Y} "
        f"({programme.duration_weeks} weeks). It looks at information about the health and care "
        f"of everyone registered with the practices taking part, to find people who might "
        f"benefit from extra care or support.",
        "",
        "## Who is responsible",
        "",
        f"The GP practices taking part are the data controllers: "
        f"{', '.join(programme.controllers)} (these are the practices' NHS organisation codes). "
        f"{programme.processor.name} ({programme.processor.ods_code}) processes the data for "
        f"them, following their instructions.",
        "",
        "## What information we use",
        "",
        "We combine information from:",
        "",
        *[f"- {kind.label}" for kind in kinds],
        "",
        "## How we protect it",
        "",
        "- Anything that identifies you (your name, NHS number, address, postcode and date of "
        "birth) is removed and replaced with a code before anyone analyses the data.",
        "- The people working with the data see only the code, never who you are.",
        "- Only your own GP practice can turn the code back into your name, so that they can "
        "offer you care.",
        "- Published figures are checked so that nobody can be identified from them: small "
        "numbers are hidden and other numbers rounded.",
        f"- Information that identifies you is held by {programme.processor.name} for at most "
        f"{programme.identifiable_retention_days} days and then securely destroyed.",
        f"- All the programme's data is destroyed when the programme ends on "
        f"{programme.end_date:%-d %B %Y}, and a certificate of destruction is kept.",
        "",
        "## What we use it for",
        "",
        "Your information is used only for:",
        "",
        *[f"- {purpose}" for purpose in purposes],
        "",
    ]
    if config.recipients:
        lines += ["## Who else receives information", ""]
        for recipient in config.recipients:
            lines.append(
                f"- {recipient.name}, for {recipient.purpose.label}, until "
                f"{recipient.expires:%-d %B %Y}. They receive only the information that purpose "
                f"needs, with codes of their own that cannot be matched with anyone else's."
            )
        lines.append("")
    lines += ["## Your choices", ""]
    objections = config.objections
    if objections.type1:
        lines.append(
            "- If you have told your GP practice that you do not want your GP information used "
            "for purposes beyond your own care (a Type 1 opt-out), none of your information "
            "from any source is used in this programme."
        )
    if objections.national_data_opt_out:
        lines.append(
            "- If you have registered a national data opt-out, none of your information is "
            "used in this programme."
        )
    if not (objections.type1 or objections.national_data_opt_out):
        lines.append(
            "- This programme is for your direct care, so opt-outs do not apply; ask your GP "
            "practice if you have questions."
        )
    lines += [
        "- If you object later, your information is removed from the programme's data and "
        "from anything produced afterwards.",
        "- To object, or to ask about this programme, contact your GP practice.",
        "",
    ]
    return "\n".join(lines)
