"""How good the suggestions and each technique are, and whether the data is drifting.

metrics.py      scores against reviewed (or uploaded gold) labels: suggestion_scores is the one
                metric function; learned techniques are measured out of fold (honest_rows)
diagnostics.py  Snorkel-style per-technique coverage, overlap, conflict; the worst patterns
monitor.py      the run log's views, label distribution and agreement over time, drift (PSI)
agreement.py    between reviewers: Cohen's kappa per pair, Krippendorff's alpha, per label and
                overall, the documents behind each disagreement
reviewers.py    per reviewer: progress, reviews/hour over active time, agreement, activity log

Import the module you need; this package imports nothing itself.
"""
