"""Pre-deployment: tests, build, security, configuration, database and tag, before staging.

Modules: `settings` (the `[deploy.predeploy]` section), one module per step, `runner`
(`run_predeploy`) and `tool` (`hotfix_predeploy`). Nothing is imported here, so that the
configuration can import `settings` without pulling in the steps.
"""
