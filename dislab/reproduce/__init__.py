"""Named reproductions of published findings: ``dislab reproduce NAME --budget cpu --out DIR``.

A reproduction (:class:`dislab.reproduce.base.Reproduction`) is a study in the sweep grammar at
several budgets (``paper``: the publication's settings, for a GPU or a cluster; ``cpu``: about an
hour on 2 cores; ``tiny``: seconds, for tests) plus the claims it tests. :func:`reproduce` sweeps
the study (resumable: the usual study folder), runs UDR where a claim needs it, writes the study's
table and figures, checks every claim in code and writes ``claims.json`` / ``claims.md``: PASS or
FAIL with the measured numbers beside the published ones and their source.

``claims.json`` also keeps every finished run's row (settings and scalar scores), so that a study
too long for one session or one machine continues from its committed summary rather than its run
folders: ``carry=`` (``--carry FILE``) takes the rows of an earlier claims.json of the same study,
trains only the runs it lacks, and judges the claims on both. Where a claim needs UDR, which
compares the seeds of one setting with each other, only settings whose seeds all finished are
carried; the others are trained again together.
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


def carried_rows(path: str | os.PathLike, rep: Any, data: dict[str, Any], study: Any) -> tuple[dict[str, dict], list[str]]:
    """The finished runs' rows of the claims.json at ``path`` that continue ``study`` (the study
    definition ``data`` of reproduction ``rep``): ``({run name: row}, names left out)``. Left out
    are the runs of settings not all of whose seeds finished, where ``rep`` needs UDR. A file that
    is not a claims.json of this study raises DataError or ConfigError naming it."""
    import json

    from dislab.errors import ConfigError, DataError
    from dislab.io import read_json

    payload = read_json(path)
    block = payload.get("dislab")
    made_by = block.get("produced_by") if isinstance(block, dict) else None
    if made_by != PRODUCER:
        raise DataError(f"{path}: not a claims.json of dislab reproduce (produced_by {made_by!r}, "
                        f"expected {PRODUCER!r})")
    if json.loads(json.dumps(payload.get("study"))) != json.loads(json.dumps(data)):
        raise ConfigError(f"{path}: written for another study ({payload.get('reproduction')!r} at budget "
                          f"{payload.get('budget')!r}); --carry continues only the same study definition "
                          f"({data['name']})")
    got = payload.get("rows")
    if not isinstance(got, list) or not all(isinstance(r, dict) for r in got):
        raise DataError(f"{path}: expected a list of run rows under 'rows'")
    names = {r.name for r in study.runs}
    rows: dict[str, dict] = {}
    for r in got:
        if r.get("run") not in names or r.get("state") != "done":
            raise DataError(f"{path}: row {r.get('run')!r} is not a finished run of {data['name']}")
        rows[r["run"]] = r
    left_out: list[str] = []
    if rep.udr:  # UDR compares a setting's seeds: carry a setting only when all of them finished
        for runs in study.groups().values():
            if not all(r.name in rows for r in runs):
                left_out += [r.name for r in runs if rows.pop(r.name, None) is not None]
    return rows, left_out


def reproduce(name: str, budget: str, out: str | os.PathLike, *, workers: int | None = None,
              seeds_per_process: int = 1, check_only: bool = False, report: bool = True,
              progress: bool = True, carry: str | os.PathLike | None = None) -> dict[str, Any]:
    """Run the reproduction ``name`` at ``budget`` into the study folder ``out`` and check its
    claims; returns the claims.json payload. ``check_only``: do not train, judge what is there;
    ``report``: write each run's report.html (as ``dislab sweep``); ``carry``: an earlier
    claims.json of the same study whose finished runs are not trained again (see module doc)."""
    from dislab.errors import RunError
    from dislab.io import atomic_write_text, write_json
    from dislab.reproduce.claims import check_claims, format_table
    from dislab.studies.aggregate import results, rows
    from dislab.studies.study import parse_study

    rep = REPRODUCTIONS.get(name)()
    data = rep.study(budget)
    study = parse_study(data, name=data["name"], where=f"reproduction {name} (budget {budget})")
    out = Path(out)
    carried, left_out = ({}, []) if carry is None else carried_rows(carry, rep, data, study)
    summary = None
    if check_only:
        if not (out / STUDY_JSON).is_file() and not carried:
            raise RunError(f"{out}: no study here (study.json missing); run `dislab reproduce {name} "
                           f"--budget {budget} --out {out}` without --check-only first")
    else:
        from dislab.studies.sweep import sweep

        summary = sweep(study, out, workers=workers, seeds_per_process=seeds_per_process, report=report,
                        progress=progress, skip=set(carried))
        if rep.udr:
            from dislab.studies.study_udr import study_udr

            study_udr(out, progress=progress)
    here = (out / STUDY_JSON).is_file()
    table = results(out) if here else {"figures": []}
    found = {r["run"]: r for r in rows(out)[0]} if here else {}
    # one row per run of the study, in its order (a shared folder may hold other studies' runs):
    # the folder's own when it finished the run, else the carried one, else what the folder says
    mine = []
    for spec in study.runs:
        own = found.get(spec.name, {"run": spec.name, "group": spec.group, "state": "pending"})
        mine.append(own if own.get("state") == "done" or spec.name not in carried else carried[spec.name])
    checked = check_claims(rep.claims(), mine)
    figures = rep.figures([r for r in mine if r.get("state") == "done"], out / "figures")
    payload = {
        "reproduction": name, "title": rep.title, "paper": rep.paper, "budget": budget,
        "budget_cost": rep.budget(budget).cost, "study": data,
        "runs": {"total": len(mine), "done": sum(r.get("state") == "done" for r in mine),
                 "failed": sorted(r["run"] for r in mine if r.get("state") == "failed")},
        "carried": None if carry is None else {
            "from": str(carry), "runs": sorted(n for n in carried if found.get(n, {}).get("state") != "done"),
            "left_out": sorted(left_out)},
        "claims": [c.to_dict() for c in checked],
        "figures": [str(p.relative_to(out)) for p in [*figures, *table["figures"]]],
        "sweep_seconds": None if summary is None else summary.seconds,
        "rows": [r for r in mine if r.get("state") == "done"],  # what --carry continues from
    }
    write_json(out / CLAIMS_JSON, payload, produced_by=PRODUCER)
    n_carried = len(payload["carried"]["runs"]) if payload["carried"] else 0
    carried_words = f" ({n_carried} of them carried from {carry})" if n_carried else ""
    md = (f"# {name}: {rep.title}\n\n{rep.paper}\n\nBudget `{budget}`: {rep.budget(budget).cost}. "
          f"Runs: {payload['runs']['done']} of {payload['runs']['total']} done{carried_words}.\n\n"
          f"{format_table(checked)}\n")
    atomic_write_text(out / CLAIMS_MD, md)
    payload["table"] = format_table(checked)
    return payload
