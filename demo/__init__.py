"""`make demo`: Feedkeeper against local simulators, seeded, in one command.

``python -m demo`` starts a private package index (the JFrog simulator: an Artifactory PyPI repository and the
Access token API that rotates the demo feed's token), the simulator of each registered target kind that has a demo
module (``simulators.<kind>.demo``, see :mod:`demo.platform`) and the dashboard's web, worker and
beat processes (the Procfile's commands) with their own throw-away ``DATA_DIR`` (default ``./var/demo``,
recreated each run), seeds feeds, targets and deliveries through the services layer, prints how to log in and how
to run the API contract smoke test against it, and stops every child on Ctrl-C or SIGTERM.

Modules: :mod:`demo.processes` (child processes), :mod:`demo.services` (the index, HTTP helpers),
:mod:`demo.platform` (the platform plug-ins and their discovery), :mod:`demo.seed` (admin, API token, business
objects), :mod:`demo.banner` (what is printed).
"""
