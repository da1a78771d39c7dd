"""Active learning: uncertain and disputed documents first, spread over clusters; models
refreshed in the background as reviews arrive."""

from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.active_learning import (
    RefreshPolicy,
    disagreement,
    label_balance,
    maybe_refresh,
    priority,
    priority_order,
    select_batch,
    uncertainty,
)
from core.documents import Document
from core.store import Store
from core.taxonomy import Label, Taxonomy


def test_an_even_split_is_more_uncertain_than_a_clear_winner():
    probabilities = np.array([[0.9, 0.05, 0.05], [0.45, 0.45, 0.1], [0.6, 0.3, 0.1]])
    assert list(np.argsort(-uncertainty(probabilities))) == [1, 2, 0]


def test_multi_label_uncertainty_is_closeness_to_the_threshold():
    probabilities = np.array([[0.95, 0.02], [0.55, 0.01]])
    value = uncertainty(probabilities, multi_label=True, threshold=0.5)
    assert value[1] > value[0]


def test_documents_no_model_scored_are_maximally_uncertain():
    probabilities = np.array([[1.0, 0.0], [0.0, 0.0]])
    assert list(uncertainty(probabilities, covered=np.array([True, False]))) == [0.0, 1.0]


def test_disagreement_is_the_share_of_voting_techniques_that_decide_otherwise():
    model = np.array([[0.8, 0.2], [0.8, 0.2]])
    techniques = np.array(
        [
            [[0.9, 0.1], [0.9, 0.1]],  # agrees on both
            [[0.1, 0.9], [0.9, 0.1]],  # disagrees on document 0
            [[0.1, 0.9], [0.1, 0.9]],  # disagrees on both, but abstains on document 1
        ]
    )
    present = np.array([[True, True], [True, True], [True, False]])
    assert list(disagreement(techniques, present, model)) == [pytest.approx(2 / 3), 0.0]


def test_a_disputed_document_outranks_an_equally_uncertain_undisputed_one():
    model = np.array([[0.7, 0.3], [0.7, 0.3]])
    techniques = np.array([[[0.7, 0.3], [0.2, 0.8]]])  # one technique, disputes document 1
    scores = priority(model, techniques, np.ones((1, 2), dtype=bool))
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
    plain = priority(probabilities)
    assert plain[0] == pytest.approx(plain[1])
    balanced = priority(probabilities, label_counts=np.array([10, 1]))
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
        )
    )
)
def test_priority_order_is_a_permutation_of_the_candidates(data):
    top, keep = data
    top = np.array(top)
    probabilities = np.stack([top, 1 - top], axis=1)
    embeddings = np.stack([top, np.ones_like(top)], axis=1)
    order = priority_order(probabilities, embeddings=embeddings, candidates=np.array(keep))
    assert sorted(order.tolist()) == [i for i, k in enumerate(keep) if k]


# --- refresh policy -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "last", "due"),
    [
        (3, None, False),  # too few for a first model
        (4, None, True),
        (14, 10, False),  # +4 < 5
        (15, 10, True),  # +5
        (209, 200, False),  # +9 < 10% of 200
        (220, 200, True),  # +20 = 10%
    ],
)
def test_refresh_is_due_when_reviews_grew_by_five_or_ten_percent(now, last, due):
    assert RefreshPolicy().due(now, last) is due


TEXTS = {
    "Please refund the double charge on my card": "billing",
    "My invoice shows the wrong amount": "billing",
    "I was billed twice this month": "billing",
    "Why was I charged a late fee": "billing",
    "The parcel never arrived at my door": "shipping",
    "Tracking has not updated in a week": "shipping",
    "The courier delivered to the wrong address": "shipping",
    "My package arrived damaged": "shipping",
    "Can I get a refund for the delayed delivery": "billing",
    "Where is my order, it is late": "shipping",
}


def review(store, project_id, documents):
    for document in documents:
        store.add_review(
            project_id,
            document.id,
            reviewer="ann",
            decision="correct",
            labels=[TEXTS[document.text]],
        )


def test_maybe_refresh_trains_in_the_background_and_only_when_reviews_grew(db_path):
    taxonomy = Taxonomy(labels=(Label("billing"), Label("shipping")))
    documents = [Document.from_text(text) for text in TEXTS]
    with Store(db_path) as store, ThreadPoolExecutor(max_workers=1) as executor:
        project = store.create_project("refresh")
        store.save_taxonomy(project.id, taxonomy)
        store.add_documents(
            project.id, documents, filename="t.txt", format="txt", encoding="utf-8", sha256="x"
        )
        assert maybe_refresh(store, project.id, executor) is None  # no reviews yet

        first, later = [documents[i] for i in (0, 1, 4, 5)], [documents[i] for i in (2, 3, 6, 7, 8)]
        review(store, project.id, first)
        future = maybe_refresh(store, project.id, executor)
        assert isinstance(future, Future)
        outcome = future.result(timeout=120)
        model = store.latest_trained_model(project.id, "supervised")
        assert model is not None and model.n_reviews == 4
        assert outcome.predicted == len(documents)  # the new model scored every document
        assert any("ensemble" in reason for reason in outcome.skipped)  # < 20 reviews

        assert maybe_refresh(store, project.id, executor) is None  # nothing new
        review(store, project.id, later)  # +5
        again = maybe_refresh(store, project.id, executor)
        assert again is not None
        second = again.result(timeout=120)
        assert store.latest_trained_model(project.id, "supervised").n_reviews == 9
        # The first model's predictions went; the new model's are what the queue reads.
        assert outcome.pruned == 0 and second.pruned == len(documents)
        supervised = [run for run in store.list_runs(project.id) if run.technique == "supervised"]
        assert len(supervised) == 2
        assert store.get_predictions(project.id, supervised[0].cache_key) == {}
        latest = store.latest_cache_keys(project.id)["supervised"]
        assert latest == supervised[1].cache_key
        assert len(store.get_predictions(project.id, latest)) == len(documents)


# --- learning from few reviews (core.learn: zero-shot prior + self-training) -----------------


def three_label_prior(dim=6):
    from core.learn import LabelPrior

    centres = np.eye(dim)[:3]
    return LabelPrior(classes=("a", "b", "c"), coef=centres / 0.1, intercept=np.zeros(3)), centres


def test_without_reviews_the_model_is_the_zero_shot_prior():
    from core.learn import fit_weights_with_prior

    prior, _ = three_label_prior()
    coef, intercept = fit_weights_with_prior(
        np.zeros((0, 6)), np.zeros((0, 3)), multi_label=False, prior=prior
    )
    assert np.allclose(coef, prior.coef) and np.allclose(intercept, prior.intercept)


def test_a_label_nobody_reviewed_yet_is_still_predicted_through_the_prior():
    from core.learn import fit_linear_model

    prior, centres = three_label_prior()
    rng = np.random.default_rng(0)
    reviewed, labels = clusters(rng, centres[:2], [5, 5], noise=0.05)
    model, _ = fit_linear_model(
        reviewed,
        [["a"]] * 5 + [["b"]] * 5,
        multi_label=False,
        embedding_model="m",
        prior=prior,
        cross_validate=False,
    )
    assert model.classes == ("a", "b", "c")
    near_c = centres[2] + 0.05 * rng.standard_normal(6)
    assert model.classes[int(model.probabilities(near_c[None]).argmax())] == "c"


def test_self_training_moves_a_misplaced_prior_boundary_into_the_gap_between_clusters():
    from core.learn import LabelPrior, fit_linear_model

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
        model, _ = fit_linear_model(
            np.zeros((0, 2)),
            [],
            multi_label=False,
            embedding_model="m",
            prior=prior,
            unlabelled=pool,
            cross_validate=False,
        )
        return (model.probabilities(documents).argmax(axis=1) == truth).mean()

    assert accuracy(None) < 0.96
    assert accuracy(documents) > 0.99


def test_multi_label_fit_with_a_prior_gives_independent_label_probabilities():
    from core.learn import LabelPrior, fit_linear_model

    centres = np.eye(4)[:2]
    prior = LabelPrior(classes=("a", "b"), coef=centres / 0.1, intercept=np.full(2, -3.0))
    features = np.array([[1.0, 1.0, 0, 0], [1.0, 0, 0, 0], [0, 1.0, 0, 0], [0, 0, 1.0, 0]])
    model, _ = fit_linear_model(
        features,
        [["a", "b"], ["a"], ["b"], []],
        multi_label=True,
        embedding_model="m",
        prior=prior,
        cross_validate=False,
    )
    both = model.probabilities(np.array([[1.0, 1.0, 0, 0]]))[0]
    assert model.multi_label and (both > 0.5).all()


def test_active_queue_puts_disputed_unreviewed_documents_first(db_path):
    from core.active_learning import active_queue
    from core.engine import run_techniques
    from core.taxonomy import Keyword
    from core.techniques import create_technique

    taxonomy = Taxonomy(
        labels=(
            Label("billing", keywords=(Keyword("refund"),), patterns=(r"\binvoice\b",)),
            Label("shipping", keywords=(Keyword("parcel"),), patterns=(r"\bcourier\b",)),
        )
    )
    texts = [
        "refund please",  # lexicon only: billing
        "parcel lost",  # lexicon only: shipping
        "refund the courier fee",  # lexicon billing, rules shipping: disputed
        "invoice for the parcel",  # rules billing, lexicon shipping: disputed, but reviewed
        "hello there",  # nobody votes: unknown, maximally uncertain
    ]
    documents = [Document.from_text(text) for text in texts]
    with Store(db_path) as store:
        project = store.create_project("queue")
        store.save_taxonomy(project.id, taxonomy)
        store.add_documents(
            project.id, documents, filename="t.txt", format="txt", encoding="utf-8", sha256="x"
        )
        run_techniques(store, project.id, [create_technique("rules"), create_technique("lexicon")])
        store.add_review(
            project.id, documents[3].id, reviewer="ann", decision="correct", labels=["billing"]
        )
        queue = active_queue(store, project.id, use_embeddings=False)
        with_embeddings = active_queue(store, project.id)  # MiniLM vectors for diversity
    ids = [doc.id for doc in documents]
    assert documents[3].id not in queue
    # disputed and split 50/50: 1 + 0.5 * 1/2; then unscored: uncertainty 1, nobody to dispute
    assert queue[:2] == [ids[2], ids[4]]
    assert set(queue) == set(with_embeddings) == {ids[0], ids[1], ids[2], ids[4]}
