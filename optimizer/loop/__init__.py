"""The learning loop: the plan history, measured outcomes, recalibrated catalogs, plan comparison, its CLI."""
