"""How good the suggestions and each technique are, and whether the data is drifting.

metrics.py      scores against reviewed (or uploaded gold) labels: suggestion_scores is the one
                metric function; learned techniques are measured out of fold (honest_rows)
diagnostics.py  Snorkel-style per-technique coverage, overlap, conflict; the worst patterns
monitor.py      the run log's views, label distribution and agreement over time, drift (PSI)

Import the module you need; this package imports nothing itself.
"""
