"""A small synthetic region taken through the whole pipeline once per test session, with the
Python APIs: synth → workspace → ingest → register practices and trust RZ1 → link → analytics →
risk train → score at two refreshes. Shared by tests/risk and tests/cohorts (built once: the
second asker finds it ready on disk)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from openphm.governance.audit import Actor

# 4,000 people: enough that the validation set has 20 people with an emergency admission in
# at least one sex (test_model's card test); at 3,000 each sex held about 20, so chance decided.
PEOPLE, PRACTICES, SEED = 4000, 2, 7
PROVIDER = "RZ1"  # the trust whose key is registered (region/providers/RZ1/keys/provider.key)
END = dt.date(2026, 10, 31)
PREVIOUS_REFRESH = dt.date(2026, 7, 31)
ENGINEER = Actor(user="test-engineer", role="processor-engineer")
ANALYST = Actor(user="test-analyst", role="analyst")


@dataclass(frozen=True)
class Region:
    region: Path  # the synthetic region (extracts, practices, truth)
    workspace: Path
    model_id: str

    def open(self):
        from openphm.programme.workspace import Workspace

        return Workspace.open(self.workspace)

    def practices(self) -> list[Path]:
        return sorted(p for p in (self.region / "practices").iterdir() if p.is_dir())


def built_region(base: Path) -> Region:
    root = base / "risk-region"
    ready = root / "ready"
    if not ready.exists():
        _build(root)
    model_id = ready.read_text().strip()
    return Region(root / "region", root / "workspace", model_id)


def _build(root: Path) -> None:
    from openphm.analytics import MEASURES, AnalyticsOptions, build
    from openphm.landing.ingest import ingest
    from openphm.practice.keys import generate_keypair
    from openphm.programme.workspace import Workspace
    from openphm.pseudonymise.link import link
    from openphm.pseudonymise.practices import register_practice
    from openphm.pseudonymise.providers import register_provider
    from openphm.risk import open_zone, score, train
    from openphm.synth import RegionOptions, generate_region

    region, workspace = root / "region", root / "workspace"
    generate_region(region, RegionOptions(people=PEOPLE, practices=PRACTICES, seed=SEED, end=END))
    ws = Workspace.create(workspace, region / "programme.toml", ENGINEER)
    ingest(ws, [region / "extracts"], ENGINEER)
    for practice in sorted((region / "practices").iterdir()):
        register_practice(ws, ENGINEER, practice.name, practice / "practice.pub")
    # Trust RZ1 registers its key too: its patients' local ids are sealed to it at the link.
    keys = generate_keypair(region / "providers" / PROVIDER / "keys", stem="provider")
    register_provider(ws, ENGINEER, PROVIDER, keys.public_key)
    link(ws, ENGINEER)
    con = ws.connect_linked()
    build(con, END, AnalyticsOptions(measures=MEASURES[:1], groupings=(), sii_simulations=10))
    con.close()
    with open_zone(ws) as con:
        trained = train(con)
        score(con, trained.model_id, reference_date=PREVIOUS_REFRESH)
        score(con, trained.model_id)
    (root / "ready").write_text(trained.model_id)
