"""dislab reproduce: the claim machinery on planted results (a claim that must PASS and one that
must FAIL, and INCONCLUSIVE when runs are missing), and every reproduction end to end at the tiny
budget."""
from __future__ import annotations

import json

import pytest

from dislab import cli
from dislab.reproduce import REPRODUCTIONS, reproduce
from dislab.reproduce.chen2018 import check_both_exceed_vae, check_tc_at_least_beta_vae
from dislab.reproduce.claims import FAIL, INCONCLUSIVE, PASS, check_claims, variance_share
from dislab.reproduce.duan2020 import check_udr_correlation
from dislab.reproduce.locatello2019 import check_within_model_spread


def _row(model, mig, beta=None, **extra):
    r = {"state": "done", "model": model, "mig.mig": mig, **extra}
    if beta is not None:
        r["model_options.beta"] = beta
    return r


def chen_rows(tc, bv, vae, beta=6.0):
    return ([_row("beta_tcvae", m, beta) for m in tc] + [_row("beta_vae", m, beta) for m in bv]
            + [_row("vae", m) for m in vae])


def test_chen_claims_pass_fail_and_inconclusive():
    good = chen_rows([0.30, 0.34, 0.32], [0.20, 0.22, 0.21], [0.05, 0.07, 0.06])
    assert check_tc_at_least_beta_vae(good).status == PASS
    assert check_both_exceed_vae(good).status == PASS
    o = check_tc_at_least_beta_vae(good)
    assert o.measured["beta=6"]["beta_tcvae"]["mean"] == pytest.approx(0.32)
    assert "β-TCVAE 0.320" in o.detail and "β-VAE 0.210" in o.detail
    # β-TCVAE below β-VAE at one of two β: FAIL, though it wins at the other
    bad = good + chen_rows([0.10, 0.12], [0.25, 0.27], [], beta=2.0)
    assert check_tc_at_least_beta_vae(bad).status == FAIL
    # a VAE above both
    assert check_both_exceed_vae(chen_rows([0.3, 0.3], [0.2, 0.2], [0.5, 0.4])).status == FAIL
    # one seed per model is not evidence
    assert check_tc_at_least_beta_vae(chen_rows([0.3], [0.2], [0.1])).status == INCONCLUSIVE
    # failed or unfinished runs never count
    rows = chen_rows([0.3, 0.3], [0.2, 0.2], [0.1, 0.1])
    rows += [{**_row("beta_vae", 0.9, 6.0), "state": "failed"}] * 3
    results = check_claims(REPRODUCTIONS.get("chen2018")().claims(), rows)
    assert [r.outcome.status for r in results] == [PASS, PASS]


def test_variance_share_by_hand():
    # two groups: {1, 3} and {5, 7}: grand mean 4, SS_total 9+1+1+9 = 20, SS_between 2·4 + 2·4 = 16
    s = variance_share({"a": [1.0, 3.0], "b": [5.0, 7.0]})
    assert s["eta2"] == pytest.approx(16 / 20)
    assert s["within_sd"] == pytest.approx(2 ** 0.5)  # SS_within 4 over 2 degrees of freedom
    assert s["between_sd"] == pytest.approx(8 ** 0.5)  # sample sd of the means 2 and 6


def test_locatello_claim():
    spread = [_row(m, v) for m, vs in {"beta_vae": [0.1, 0.4, 0.2], "beta_tcvae": [0.15, 0.35, 0.3],
                                        "factor_vae": [0.05, 0.45, 0.25]}.items() for v in vs]
    assert check_within_model_spread(spread, "mig.mig").status == PASS
    apart = [_row(m, v) for m, vs in {"beta_vae": [0.10, 0.11, 0.12], "beta_tcvae": [0.40, 0.41, 0.42]}.items()
             for v in vs]
    o = check_within_model_spread(apart, "mig.mig")
    assert o.status == FAIL and o.measured["eta2"] > 0.99
    assert check_within_model_spread(apart[:3], "mig.mig").status == INCONCLUSIVE


def test_duan_claim():
    rows = [{"state": "done", "udr.udr_lasso": u, "mig.mig": m}
            for u, m in [(0.1, 0.05), (0.2, 0.1), (0.3, 0.2), (0.5, 0.15), (0.6, 0.3)]]
    o = check_udr_correlation(rows, "udr.udr_lasso", "mig.mig")
    assert o.status == PASS and o.measured["spearman"] == pytest.approx(0.9)
    flipped = [{**r, "mig.mig": -r["mig.mig"]} for r in rows]
    assert check_udr_correlation(flipped, "udr.udr_lasso", "mig.mig").status == FAIL
    assert check_udr_correlation(rows[:4], "udr.udr_lasso", "mig.mig").status == INCONCLUSIVE


def test_every_reproduction_has_budgets_claims_and_a_valid_study():
    from dislab.studies.study import parse_study

    for name in REPRODUCTIONS.names():
        rep = REPRODUCTIONS.get(name)()
        assert {"paper", "cpu", "tiny"} <= set(rep.budgets)
        assert rep.claims() and all(c.source and c.published for c in rep.claims())
        for b in rep.budgets:
            study = parse_study(rep.study(b), name=name)  # every key and value checked
            assert len({r.config["seed"] for r in study.runs}) == rep.budgets[b].seeds


def test_locatello_and_duan_use_the_reference_udr_protocol():
    """disentanglement_lib's UDR: 1,000 points per model, latents with mean KL <= 0.01 nats inactive."""
    from dislab.studies.study import parse_study

    for name in ("locatello2019", "duan2020"):
        data = REPRODUCTIONS.get(name)().study("cpu")
        assert data["udr"] == {"kl_threshold": 0.01, "n_points": 1000}
        study = parse_study(data, name=name)
        assert (study.udr.kl_threshold, study.udr.n_points) == (0.01, 1000)


@pytest.mark.slow
def test_reproductions_end_to_end_at_the_tiny_budget(tmp_path, capsys):
    """chen2018 through the CLI; locatello2019 then duan2020 on the same folder (runs shared)."""
    out = tmp_path / "chen"
    assert cli.main(["reproduce", "chen2018", "--budget", "tiny", "--out", str(out), "--workers", "0",
                     "--no-report", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "6 of 6 runs done" in printed and "| **" in printed
    claims = json.loads((out / "claims.json").read_text())
    assert [c["id"] for c in claims["claims"]] == ["tc_ge_beta_vae", "both_exceed_vae"]
    assert all(c["status"] in (PASS, FAIL) for c in claims["claims"])  # 2 seeds each: decidable
    assert (out / "figures" / "chen2018_mig_vs_beta.png").stat().st_size > 1000
    assert (out / "claims.md").read_text().startswith("# chen2018")

    shared = tmp_path / "locatello"
    loc = reproduce("locatello2019", "tiny", shared, workers=0, report=False, progress=False)
    assert loc["runs"] == {"total": 6, "done": 6, "failed": []}
    # the kept rows carry the training summary and where each run trained and was scored
    from dislab.machine import describe
    from dislab.training.run import read_log

    first = loc["rows"][0]
    log = read_log(shared / "runs" / first["run"] / "train_log.jsonl")
    assert first["train.elbo"] == pytest.approx(sum(r["elbo"] for r in log[-5:]) / len(log[-5:]))
    assert first["train.wall_s"] == log[-1]["wall_time_s"]
    assert first["trained_on"] == first["evaluated_on"] == describe()
    duan = reproduce("duan2020", "tiny", shared, workers=0, report=False, progress=False)
    assert duan["runs"]["done"] == 6
    assert {c["status"] for c in duan["claims"]} <= {PASS, FAIL, INCONCLUSIVE}
    again = reproduce("duan2020", "tiny", shared, check_only=True, progress=False)
    def verdicts(result):
        return [(c["id"], c["status"], c["detail"]) for c in result["claims"]]

    assert verdicts(again) == verdicts(duan)  # judged again from the files alone

    # --carry: a fresh folder continues from the committed summary (claims.json keeps the rows)
    fresh = tmp_path / "next-session"
    cont = reproduce("locatello2019", "tiny", fresh, workers=0, report=False, progress=False,
                     carry=shared / "claims.json")
    assert cont["runs"]["done"] == 6 and len(cont["carried"]["runs"]) == 6
    assert not list(fresh.glob("runs/*/model.safetensors"))  # nothing trained again
    assert verdicts(cont) == verdicts(loc)
    assert "6 of them carried from" in (fresh / "claims.md").read_text()
    judged = reproduce("locatello2019", "tiny", tmp_path / "judge", check_only=True, progress=False,
                       carry=fresh / "claims.json")  # no folder at all: the summary alone
    assert verdicts(judged) == verdicts(loc) and (tmp_path / "judge" / "claims.md").is_file()
    # a setting with one seed missing from the summary is trained again whole (UDR pairs its seeds)
    summary = json.loads((shared / "claims.json").read_text())
    dropped = summary["rows"].pop(0)
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps(summary))
    third = tmp_path / "third"
    res = reproduce("duan2020", "tiny", third, workers=0, report=False, progress=False, carry=partial)
    group = [r["run"] for r in summary["rows"] if r["group"] == dropped["group"]]
    assert res["carried"]["left_out"] == group and len(group) == 1
    trained = sorted(p.parent.name for p in third.glob("runs/*/model.safetensors"))
    assert trained == sorted([dropped["run"], *group])
    assert res["runs"]["done"] == 6 and len(res["carried"]["runs"]) == 4
    assert all(isinstance(r.get("udr.udr_lasso"), float) for r in res["rows"])  # every run has its UDR
    # another study's summary, or a file that is none: one line, exit 2
    for bad, words in ((out / "claims.json", "written for another study"), (tmp_path / "partial.json.x", "file not found")):
        assert cli.main(["reproduce", "locatello2019", "--budget", "tiny", "--out", str(tmp_path / "x"),
                         "--carry", str(bad), "--quiet"]) == 2
        err = capsys.readouterr().err
        assert words in err and str(bad) in err and len(err.strip().splitlines()) == 1


def test_the_kept_locatello_summary_says_what_docs_results_reports(tmp_path):
    """docs/results/locatello2019-cpu.json (the cpu study's kept rows) is judged again with no
    study folder at all, and docs/results.md quotes its run count and every claim's numbers."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    text = (root / "docs" / "results.md").read_text(encoding="utf-8")
    for name in ("locatello2019", "duan2020"):
        got = reproduce(name, "cpu", tmp_path / name, check_only=True, progress=False,
                        carry=root / "docs" / "results" / "locatello2019-cpu.json")
        assert f"{got['runs']['done']} of {got['runs']['total']} runs" in text
        for claim in got["claims"]:
            assert claim["status"] in (PASS, FAIL)
            m = claim["measured"]
            number = f"η² = {m['eta2']:.2f}" if "eta2" in m else f"ρ = {m['spearman']:.2f}"
            assert number in text, (claim["id"], number)
