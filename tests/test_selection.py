"""Active learning (core.learning.selection) and the supervised model's fit
(core.learning.linear): pure functions on hand-made arrays."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.learning.linear import LabelPrior, fit_linear_model, fit_weights_with_prior
from core.learning.selection import (
    MAX_COVERAGE_ATTEMPTS,
    MAX_FIRST_EXAMPLE_ATTEMPTS,
    coverage_picks,
    label_balance,
    priority,
    select_batch,
)
from core.predictions import uncertainty


def test_a_disputed_document_outranks_an_equally_uncertain_undisputed_one():
    probabilities = np.array([[0.7, 0.3], [0.7, 0.3]])
    scores = priority(uncertainty(probabilities), np.array([0.0, 1.0]), probabilities)
    assert scores[1] > scores[0]
    assert list(select_batch(scores, None, 1)) == [1]


def clusters(rng, centres, sizes, noise=0.02):
    """Points around unit-vector centres: (sum(sizes), D) and the cluster of each point."""
    points, which = [], []
    for index, (centre, size) in enumerate(zip(centres, sizes)):
        points.append(centre + noise * rng.standard_normal((size, len(centre))))
        which += [index] * size
    return np.vstack(points), np.array(which)


def test_label_balance_favours_documents_of_labels_with_few_reviews():
    probabilities = np.array([[0.9, 0.1, 0.0], [0.1, 0.9, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    assert label_balance(probabilities, None).tolist() == [0, 0, 0, 0]
    assert label_balance(probabilities, np.zeros(3)).tolist() == [0, 0, 0, 0]
    balance = label_balance(probabilities, np.array([6, 3, 0]))  # no "c" reviewed yet
    assert balance[2] == pytest.approx(1.0)  # surely "c": the most wanted
    assert balance[1] > balance[0]  # "b" has had fewer reviews than "a"
    assert balance[0] == pytest.approx(1 - 3 * (0.9 * 6 / 9 + 0.1 * 3 / 9))
    assert balance[3] == pytest.approx(0.0)  # no scores: treated as evenly spread
    assert np.all((balance >= -1) & (balance <= 1))


def test_with_label_counts_an_equally_uncertain_document_of_a_rare_label_comes_first():
    probabilities = np.array([[0.55, 0.45], [0.45, 0.55]])  # equally uncertain
    spread, calm = uncertainty(probabilities), np.zeros(2)
    plain = priority(spread, calm, probabilities)
    assert plain[0] == pytest.approx(plain[1])
    balanced = priority(spread, calm, probabilities, label_counts=np.array([10, 1]))
    assert balanced[1] > balanced[0]


def test_a_batch_spreads_over_clusters_instead_of_taking_near_duplicates():
    rng = np.random.default_rng(0)
    centres = np.eye(8)[:3]
    embeddings, which = clusters(rng, centres, [10, 10, 10])
    # The first cluster is the most uncertain: a plain ranking would take all of it first.
    priorities = np.where(which == 0, 1.0, np.where(which == 1, 0.8, 0.7))
    priorities = priorities + 0.01 * rng.random(len(priorities))
    plain = select_batch(priorities, None, 3)
    diverse = select_batch(priorities, embeddings, 3)
    assert set(which[plain]) == {0}
    assert sorted(which[diverse]) == [0, 1, 2]
    assert which[diverse[0]] == 0  # the most uncertain document still comes first


def test_diversity_does_not_pull_in_documents_of_negligible_priority():
    rng = np.random.default_rng(1)
    embeddings, which = clusters(rng, np.eye(4)[:2], [5, 5])
    priorities = np.where(which == 0, 1.0, 0.0)  # the second cluster is certain
    picked = select_batch(priorities, embeddings, 2, redundancy=0.5)
    assert set(which[picked]) == {0}


def test_select_batch_skips_documents_already_selected_and_non_candidates():
    priorities = np.array([5.0, 4.0, 3.0, 2.0, 1.0])
    candidates = np.array([True, True, False, True, True])
    picked = select_batch(priorities, None, 2, candidates=candidates, already_selected=[0])
    assert list(picked) == [1, 3]


@given(
    st.integers(1, 40).flatmap(
        lambda n: st.tuples(
            st.lists(st.floats(0, 1), min_size=n, max_size=n),
            st.lists(st.booleans(), min_size=n, max_size=n),
            st.integers(0, n + 2),
        )
    )
)
def test_a_batch_is_distinct_candidates_best_first(data):
    top, keep, k = data
    top, keep = np.array(top), np.array(keep)
    embeddings = np.stack([top, np.ones_like(top)], axis=1)
    picked = select_batch(top, embeddings, k, candidates=keep)
    assert len(picked) == min(k, keep.sum()) == len(set(picked.tolist()))
    assert all(keep[i] for i in picked)


# --- coverage: no label starved ----------------------------------------------------------


def test_every_label_without_a_review_gets_its_most_likely_document():
    probabilities = np.array(
        [
            [0.9, 0.05, 0.05],
            [0.8, 0.15, 0.05],
            [0.5, 0.4, 0.1],  # the likeliest "b"
            [0.6, 0.1, 0.3],  # the likeliest "c"
        ]
    )
    picks = coverage_picks(probabilities, np.ones(4, bool), np.zeros(3), np.zeros(3), 10)
    assert picks == [(0, 0), (2, 1), (3, 2)]


def test_a_second_example_of_a_label_is_not_a_near_duplicate_of_the_first():
    # Documents 1 and 2 are equally likely "a"; 1 repeats the reviewed example 0.
    probabilities = np.array([[0.99, 0.01], [0.98, 0.02], [0.98, 0.02], [0.1, 0.9]])
    embeddings = np.array([[1.0, 0.0], [1.0, 0.01], [0.0, 1.0], [0.5, 0.5]])
    candidates = np.array([False, True, True, True])
    counts, attempts = np.array([1, 2]), np.zeros(2)
    plain = coverage_picks(probabilities, candidates, counts, attempts, 5)
    diverse = coverage_picks(
        probabilities, candidates, counts, attempts, 5, embeddings=embeddings, examples={0: [0]}
    )
    assert plain == [(1, 0)] and diverse == [(2, 0)]
    # Far less likely documents are not taken for the sake of variety.
    unlikely = probabilities.copy()
    unlikely[2] = [0.6, 0.4]
    assert coverage_picks(
        unlikely, candidates, counts, attempts, 5, embeddings=embeddings, examples={0: [0]}
    ) == [(1, 0)]


def test_coverage_skips_labels_with_reviews_and_reviewed_documents():
    probabilities = np.array([[0.1, 0.9], [0.2, 0.8], [0.7, 0.3]])
    candidates = np.array([False, True, True])  # document 0 is reviewed
    picks = coverage_picks(probabilities, candidates, np.array([3, 0]), np.zeros(2), 10)
    assert picks == [(1, 1)]


def test_a_label_that_keeps_missing_is_given_up_and_the_rarest_comes_first():
    probabilities = np.full((5, 3), 1 / 3)
    counts, attempts = np.zeros(3), np.array([MAX_FIRST_EXAMPLE_ATTEMPTS, 1, 0])
    picks = coverage_picks(probabilities, np.ones(5, bool), counts, attempts, 10)
    assert [label for _, label in picks] == [2, 1]  # fewest attempts first; label 0 given up
    assert coverage_picks(probabilities, np.ones(5, bool), counts, attempts, 1) == [(0, 2)]


def test_a_label_without_any_example_is_sought_longer_than_its_second_example():
    probabilities = np.full((6, 3), 1 / 3)
    attempts = np.full(3, MAX_COVERAGE_ATTEMPTS)
    counts = np.array([0, 1, 2])  # no example yet / one of two / done
    picks = coverage_picks(probabilities, np.ones(6, bool), counts, attempts, 10)
    assert [label for _, label in picks] == [0]
    assert MAX_FIRST_EXAMPLE_ATTEMPTS > MAX_COVERAGE_ATTEMPTS


# --- refresh policy -------------------------------------------------------------------------


@pytest.mark.parametrize(("last", "needed"), [(0, 3), (10, 3), (30, 3), (31, 4), (200, 20)])
def test_a_new_candidate_is_due_after_three_or_ten_percent_label_changes(last, needed):
    from core.learning.loop import RefreshPolicy

    assert RefreshPolicy().changes_needed(last) == needed


# --- learning from few reviews (zero-shot prior + self-training) -----------------------------


def three_label_prior(dim=6):
    centres = np.eye(dim)[:3]
    return LabelPrior(classes=("a", "b", "c"), coef=centres / 0.1, intercept=np.zeros(3)), centres


def test_without_reviews_the_model_is_the_zero_shot_prior():
    prior, _ = three_label_prior()
    coef, intercept = fit_weights_with_prior(
        np.zeros((0, 6)), np.zeros((0, 3)), multi_label=False, prior=prior
    )
    assert np.allclose(coef, prior.coef) and np.allclose(intercept, prior.intercept)


def test_a_label_nobody_reviewed_yet_is_still_predicted_through_the_prior():
    prior, centres = three_label_prior()
    rng = np.random.default_rng(0)
    reviewed, labels = clusters(rng, centres[:2], [5, 5], noise=0.05)
    model = fit_linear_model(
        reviewed, [["a"]] * 5 + [["b"]] * 5, multi_label=False, embedding_model="m", prior=prior
    ).model
    assert model.classes == ("a", "b", "c")
    near_c = centres[2] + 0.05 * rng.standard_normal(6)
    assert model.classes[int(model.probabilities(near_c[None]).argmax())] == "c"


def test_self_training_moves_a_misplaced_prior_boundary_into_the_gap_between_clusters():
    rng = np.random.default_rng(0)
    documents = np.vstack([rng.normal([-1, 0], 0.3, (200, 2)), rng.normal([1, 0], 0.3, (200, 2))])
    truth = np.repeat([0, 1], 200)
    # The zero-shot boundary sits at x = 0.6, inside cluster "b"; the gap is at x = 0.
    prior = LabelPrior(
        classes=("a", "b"),
        coef=np.array([[-5.0, 0.0], [5.0, 0.0]]),
        intercept=np.array([3.0, -3.0]),
    )

    def accuracy(pool):
        model = fit_linear_model(
            np.zeros((0, 2)),
            [],
            multi_label=False,
            embedding_model="m",
            prior=prior,
            unlabelled=pool,
        ).model
        return (model.probabilities(documents).argmax(axis=1) == truth).mean()

    assert accuracy(None) < 0.96
    assert accuracy(documents) > 0.99


def test_multi_label_fit_with_a_prior_gives_independent_label_probabilities():
    centres = np.eye(4)[:2]
    prior = LabelPrior(classes=("a", "b"), coef=centres / 0.1, intercept=np.full(2, -3.0))
    features = np.array([[1.0, 1.0, 0, 0], [1.0, 0, 0, 0], [0, 1.0, 0, 0]])
    model = fit_linear_model(
        features, [["a", "b"], ["a"], ["b"]], multi_label=True, embedding_model="m", prior=prior
    ).model
    both = model.probabilities(np.array([[1.0, 1.0, 0, 0]]))[0]
    assert model.multi_label and (both > 0.5).all()


def test_cross_fitting_predicts_each_review_from_a_fold_without_it():
    """A memoriser: labels are noise, so the full fit knows them and no fold can."""
    rng = np.random.default_rng(0)
    features = rng.standard_normal((40, 60))
    labels = [["a"] if flip else ["b"] for flip in rng.random(40) < 0.5]
    prior = LabelPrior(classes=("a", "b"), coef=np.zeros((2, 60)), intercept=np.zeros(2))
    folds = [(np.setdiff1d(np.arange(40), part), part) for part in np.array_split(np.arange(40), 5)]
    fitted = fit_linear_model(
        features, labels, multi_label=False, embedding_model="m", prior=prior, folds=folds
    )
    truth = np.array([0 if items == ["a"] else 1 for items in labels])
    in_sample = (fitted.model.probabilities(features).argmax(axis=1) == truth).mean()
    out_of_fold = (fitted.out_of_fold.argmax(axis=1) == truth).mean()
    assert in_sample == 1.0
    assert out_of_fold < 0.75


def test_starting_from_an_earlier_solution_finds_the_same_model():
    prior, centres = three_label_prior()
    rng = np.random.default_rng(2)
    reviewed, which = clusters(rng, centres, [6, 6, 6], noise=0.1)
    pool, _ = clusters(rng, centres, [30, 30, 30], noise=0.1)
    labels = [["abc"[i]] for i in which]
    cold = fit_linear_model(
        reviewed, labels, multi_label=False, embedding_model="m", prior=prior, unlabelled=pool
    ).model
    warm = fit_linear_model(
        reviewed,
        labels,
        multi_label=False,
        embedding_model="m",
        prior=prior,
        unlabelled=pool,
        start=cold,
    ).model
    probe = pool[::7]
    assert warm.probabilities(probe) == pytest.approx(cold.probabilities(probe), abs=1e-3)
