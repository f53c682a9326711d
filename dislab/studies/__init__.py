"""Studies: many runs of one grid, seeds and metrics, run as one resumable command (docs/studies.md).

    from dislab.studies.sweep import sweep
    from dislab.studies.study_udr import study_udr
    from dislab.studies.aggregate import results

    summary = sweep("study.toml", "studies/demo", executor="local", workers=2)
    study_udr("studies/demo")            # UDR of every run against its group
    results("studies/demo")              # results.csv, results.sqlite, figures/, index.html

Modules: ``study`` (the file, validation, names), ``grid`` (product / zip / chain), ``sweep``
(planning), ``runner`` (one run: lock, train, evaluate, report), ``tasks``, ``local`` and
``ray_executor``, ``stacked`` (K seeds as one vectorised model), ``locking``, ``folder``,
``study_udr``, ``aggregate``, ``figures``, ``page``; the commands in ``cli_sweep``, ``cli_udr``,
``cli_results``.
"""
