"""Learning from reviews: one guarded loop from reviewed labels to better suggestions.

  linear.py     the supervised model (logistic regression on sentence embeddings, a
                zero-shot prior, self-training) and its cross-fitting
  stacking.py   the ensemble's combination (weights, temperature, thresholds) fitted and
                cross-fitted on out-of-sample rows only
  guard.py      a candidate is adopted only if no worse than the current configuration and
                the zero-review baseline, out of fold
  loop.py       `learn`: the one path (app refresh, CLI `train`, benches); when to run it
  versions.py   adopted configurations, their out-of-fold rows, pin and roll back
  trained.py    supervised models in the store
  selection.py  active learning: which documents to review next

The learned configuration is applied by `core.predictions` (the one owner of current
suggestions); `core.review_queue` turns selection into the Review page's batches.
"""
