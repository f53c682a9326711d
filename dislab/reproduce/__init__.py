"""Named reproductions of published findings: ``dislab reproduce NAME --budget cpu --out DIR``.

A reproduction (:class:`dislab.reproduce.base.Reproduction`) is a study in the sweep grammar at
several budgets (``paper``: the publication's settings, for a GPU or a cluster; ``cpu``: about an
hour on 2 cores; ``tiny``: seconds, for tests) plus the claims it tests. :func:`reproduce` sweeps
the study (resumable: the usual study folder), runs UDR where a claim needs it, writes the study's
table and figures, checks every claim in code and writes ``claims.json`` / ``claims.md``: PASS or
FAIL with the measured numbers beside the published ones and their source.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from dislab.registry import Registry
from dislab.runs.layout import STUDY_JSON

REPRODUCTIONS = Registry("reproduction", {
    "chen2018": "dislab.reproduce.chen2018:Chen2018",
    "locatello2019": "dislab.reproduce.locatello2019:Locatello2019",
    "duan2020": "dislab.reproduce.duan2020:Duan2020",
})
CLAIMS_JSON = "claims.json"
CLAIMS_MD = "claims.md"
PRODUCER = "dislab.reproduce"


def reproduce(name: str, budget: str, out: str | os.PathLike, *, workers: int | None = None,
              seeds_per_process: int = 1, check_only: bool = False, report: bool = True,
              progress: bool = True) -> dict[str, Any]:
    """Run the reproduction ``name`` at ``budget`` into the study folder ``out`` and check its
    claims; returns the claims.json payload. ``check_only``: do not train, judge what is there;
    ``report``: write each run's report.html (as ``dislab sweep``)."""
    from dislab.errors import RunError
    from dislab.io import atomic_write_text, write_json
    from dislab.reproduce.claims import check_claims, format_table
    from dislab.studies.aggregate import results, rows
    from dislab.studies.study import parse_study

    rep = REPRODUCTIONS.get(name)()
    data = rep.study(budget)
    study = parse_study(data, name=data["name"], where=f"reproduction {name} (budget {budget})")
    out = Path(out)
    summary = None
    if check_only:
        if not (out / STUDY_JSON).is_file():
            raise RunError(f"{out}: no study here (study.json missing); run `dislab reproduce {name} "
                           f"--budget {budget} --out {out}` without --check-only first")
    else:
        from dislab.studies.sweep import sweep

        summary = sweep(study, out, workers=workers, seeds_per_process=seeds_per_process, report=report,
                        progress=progress)
        if rep.udr:
            from dislab.studies.study_udr import study_udr

            study_udr(out, progress=progress)
    table = results(out)
    all_rows = rows(out)[0]
    ours = {r.name for r in study.runs}
    mine = [r for r in all_rows if r["run"] in ours]  # a shared folder may hold other studies' runs
    checked = check_claims(rep.claims(), mine)
    figures = rep.figures([r for r in mine if r.get("state") == "done"], out / "figures")
    payload = {
        "reproduction": name, "title": rep.title, "paper": rep.paper, "budget": budget,
        "budget_cost": rep.budget(budget).cost, "study": data,
        "runs": {"total": len(mine), "done": sum(r.get("state") == "done" for r in mine),
                 "failed": sorted(r["run"] for r in mine if r.get("state") == "failed")},
        "claims": [c.to_dict() for c in checked],
        "figures": [str(p.relative_to(out)) for p in [*figures, *table["figures"]]],
        "sweep_seconds": None if summary is None else summary.seconds,
    }
    write_json(out / CLAIMS_JSON, payload, produced_by=PRODUCER)
    md = (f"# {name}: {rep.title}\n\n{rep.paper}\n\nBudget `{budget}`: {rep.budget(budget).cost}. "
          f"Runs: {payload['runs']['done']} of {payload['runs']['total']} done.\n\n{format_table(checked)}\n")
    atomic_write_text(out / CLAIMS_MD, md)
    payload["table"] = format_table(checked)
    return payload
