"""`classify --engine ray` and `import-predictions`, on a small local Ray instance.

One Ray instance (2 CPUs) serves the whole module. The main run classifies a few hundred
generated documents (CSV, JSONL and Parquet inputs) with rules, lexicon, embeddings (the
packaged MiniLM) and zero-shot (a tiny random BART NLI model); its predictions must equal
the local engine's on a store holding the same documents.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

from core.cli import build_techniques, main  # noqa: E402
from core.documents import Document  # noqa: E402
from core.engine import run_techniques  # noqa: E402
from core.ingest import ingest_path  # noqa: E402
from core.store import Store  # noqa: E402
from core.taxonomy import load_taxonomy, load_taxonomy_file  # noqa: E402
from core.techniques import register  # noqa: E402
from core.techniques.base import Technique, TextResult  # noqa: E402

pytestmark = pytest.mark.slow

TAXONOMY_YAML = """
labels:
  - name: billing
    description: Invoices, payments, charges and refunds
    keywords: [invoice, refund, {term: chargeback, weight: 2}]
    patterns: ['INV-\\d+']
  - name: shipping
    description: Parcels, couriers and deliveries
    keywords: [parcel, delivery, courier]
  - name: it
    description: Laptops, passwords and software problems
    keywords: [laptop, password, update]
"""
TECHNIQUES = ["rules", "lexicon", "embeddings", "zero_shot"]
POISON = "POISON-PILL-7f3a"  # a text holding this makes the test plug-in raise


@register
class PoisonTechnique(Technique):
    """A plug-in (registered like the built-ins) that fails on one marked text.

    The Ray workers import this module to find it, as they would any plug-in.
    """

    name = "test_ray_poison"

    def predict(self, texts, taxonomy):
        if any(POISON in text for text in texts):
            raise RuntimeError("the poisoned text was seen")
        share = 1.0 / len(taxonomy.names)
        return [TextResult(scores=dict.fromkeys(taxonomy.names, share)) for _ in texts]


# --- documents ------------------------------------------------------------------------------

WORDS = {
    "billing": ["invoice", "refund", "chargeback", "payment", "INV-2041", "charged twice"],
    "shipping": ["parcel", "courier", "delivery", "tracking number", "warehouse"],
    "it": ["laptop", "password", "update", "screen", "login"],
    None: ["please", "today", "the team", "thanks", "asap", "meeting", "budget", "Monday"],
}


def generated_texts(n: int, seed: int) -> list[str]:
    """n distinct business-like texts of varied length and topic."""
    rng = random.Random(seed)
    texts = []
    for i in range(n):
        topics = rng.sample([t for t in WORDS if t], rng.randint(0, 2))
        pool = WORDS[None] + [w for t in topics for w in WORDS[t]]
        words = [rng.choice(pool) for _ in range(rng.randint(3, 40))]
        texts.append(f"Ticket {seed}-{i}: " + " ".join(words) + ".")
    return texts


def write_csv(path: Path, texts: list[str]) -> None:
    import csv

    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text"])
        writer.writerows([f"{path.stem}-{i}", text] for i, text in enumerate(texts))


def write_inputs(folder: Path) -> Path:
    """tickets.csv (120), chats.jsonl (90), archive.parquet (90) -> the folder."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    write_csv(folder / "tickets.csv", generated_texts(120, seed=1))
    with (folder / "chats.jsonl").open("w", encoding="utf-8") as handle:
        for text in generated_texts(90, seed=2):
            handle.write(json.dumps({"text": text}) + "\n")
    pq.write_table(pa.table({"text": generated_texts(90, seed=3)}), folder / "archive.parquet")
    return folder


def local_documents(folder: Path) -> list[Document]:
    """The documents a local import would create: ingest for csv/jsonl, rows for parquet."""
    import pyarrow.parquet as pq

    documents = []
    for name in ("tickets.csv", "chats.jsonl"):
        documents += ingest_path(folder / name).documents
    texts = pq.read_table(folder / "archive.parquet").column("text").to_pylist()
    documents += [
        Document.from_text(text, source="archive.parquet", location=f"row {i}")
        for i, text in enumerate(texts, start=1)
    ]
    return documents


def outputs(folder: Path) -> dict[str, float]:
    """Output Parquet file name -> modification time."""
    return {p.name: p.stat().st_mtime_ns for p in sorted(folder.glob("*.parquet"))}


def predictions(folder: Path) -> dict[str, dict[str, dict]]:
    """technique -> document id -> row (scores/evidence decoded) over all output files."""
    import pyarrow.parquet as pq

    out: dict[str, dict[str, dict]] = {}
    for path in sorted(folder.glob("*.parquet")):
        for row in pq.read_table(path).to_pylist():
            row["scores"] = None if row["scores"] is None else json.loads(row["scores"])
            row["evidence"] = json.loads(row["evidence"])
            out.setdefault(row["technique"], {})[row["document_id"]] = row
    return out


def manifest(folder: Path) -> dict:
    return json.loads((folder / "_run.json").read_text())


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ray_instance():
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ray")
    (root / "taxonomy.yaml").write_text(TAXONOMY_YAML, encoding="utf-8")
    write_inputs(root / "inputs")
    return root


def classify(workspace: Path, output: Path, inputs, techniques, *extra: str) -> int:
    args = ["--db", str(workspace / "unused.db"), "classify", "--engine", "ray", "-q"]
    for path in inputs:
        args += ["--input", str(path)]
    for name in techniques:
        args += ["-t", name]
    args += ["--taxonomy", str(workspace / "taxonomy.yaml"), "--output", str(output), *extra]
    return main(args)


@pytest.fixture(scope="module")
def options(tiny_nli_model) -> dict:
    return {"zero_shot": {"model": str(tiny_nli_model)}}


@pytest.fixture(scope="module")
def ray_run(ray_instance, workspace, options) -> Path:
    """The main run: every input, four techniques, batches of 32 on 2 actors."""
    output = workspace / "out"
    code = classify(
        workspace,
        output,
        [workspace / "inputs"],
        TECHNIQUES,
        "-o",
        f"zero_shot.model={options['zero_shot']['model']}",
        "--batch-size",
        "32",
    )
    assert code == 0
    return output


@pytest.fixture(scope="module")
def local_run(workspace, options):
    """The same documents classified by the local engine: (store, project, outcomes)."""
    store = Store(workspace / "local.db")
    project = store.create_project("local")
    store.save_taxonomy(project.id, load_taxonomy_file(workspace / "taxonomy.yaml"))
    store.add_documents(
        project.id, local_documents(workspace / "inputs"), filename="all", format="csv",
        encoding="utf-8", sha256="-",
    )
    techniques = build_techniques(
        TECHNIQUES, multi_label=False, options=options, device=None, precision=None
    )
    outcomes = run_techniques(store, project.id, techniques, batch_size=64)
    return store, project, {outcome.technique: outcome for outcome in outcomes}


@pytest.fixture(scope="module")
def imported(ray_run, workspace):
    """The Ray outputs imported into a new project of another database: (db path, code)."""
    db = workspace / "imported.db"
    code = main(["--db", str(db), "import-predictions", "inbox", str(ray_run), "--create", "-q"])
    return db, code


# --- the main run ---------------------------------------------------------------------------


def test_one_output_file_per_input_and_a_manifest(ray_run):
    names = sorted(outputs(ray_run))
    assert [name.rsplit("-", 1)[0] for name in names] == ["archive", "chats", "tickets"]
    assert manifest(ray_run)["counts"]["documents"] == 300


def test_ray_scores_equal_the_local_engine(ray_run, local_run):
    store, project, outcomes = local_run
    ray_predictions = predictions(ray_run)
    for technique in TECHNIQUES:
        local = store.get_predictions(project.id, outcomes[technique].cache_key)
        remote = ray_predictions[technique]
        assert set(remote) == set(local), technique
        for doc_id, row in remote.items():
            expected = local[doc_id]["scores"]
            if expected is None:
                assert row["scores"] is None, (technique, doc_id)
                continue
            assert row["scores"].keys() == expected.keys()
            for label, score in expected.items():
                assert row["scores"][label] == pytest.approx(score, abs=1e-6), (technique, label)


def test_ray_evidence_equals_the_local_engine(ray_run, local_run):
    store, project, outcomes = local_run
    ray_predictions = predictions(ray_run)
    for technique in ("rules", "lexicon"):
        local = store.get_predictions(project.id, outcomes[technique].cache_key)
        assert {d: r["evidence"] for d, r in ray_predictions[technique].items()} == {
            d: r["evidence"] for d, r in local.items()
        }


def test_ray_cache_keys_are_the_local_engine_keys(ray_run, local_run):
    _, _, outcomes = local_run
    listed = {t["name"]: t["cache_key"] for t in manifest(ray_run)["techniques"]}
    assert listed == {name: outcomes[name].cache_key for name in TECHNIQUES}


def test_manifest_records_models_and_devices(ray_run, tiny_nli_model):
    techniques = {t["name"]: t for t in manifest(ray_run)["techniques"]}
    assert techniques["zero_shot"]["model_revision"]
    assert techniques["embeddings"]["devices"] == ["cpu"]
    assert techniques["embeddings"]["dtypes"] == ["fp32"]


def test_second_run_recomputes_nothing(ray_run, workspace, options):
    before = outputs(ray_run)
    code = classify(
        workspace,
        ray_run,
        [workspace / "inputs"],
        TECHNIQUES,
        "-o",
        f"zero_shot.model={options['zero_shot']['model']}",
        "--batch-size",
        "32",
    )
    assert code == 0
    assert outputs(ray_run) == before
    assert manifest(ray_run)["counts"]["resumed"] == 3
    assert manifest(ray_run)["counts"]["written"] == 0


# --- import-predictions ---------------------------------------------------------------------


def test_import_exits_zero(imported):
    _, code = imported
    assert code == 0


def test_import_adds_the_documents_a_local_import_would(imported, local_run):
    db, _ = imported
    store = Store(db)
    project = store.get_project("inbox")
    local_store, local_project, _ = local_run
    fields = lambda d: (d.id, d.text, d.source, d.location, d.external_id)  # noqa: E731
    assert sorted(map(fields, store.get_documents(project.id))) == sorted(
        map(fields, local_store.get_documents(local_project.id))
    )


def test_a_local_run_after_import_is_answered_from_the_cache(imported, options):
    db, _ = imported
    store = Store(db)
    project = store.get_project("inbox")
    techniques = build_techniques(
        TECHNIQUES, multi_label=False, options=options, device=None, precision=None
    )
    outcomes = run_techniques(store, project.id, techniques)
    assert {o.technique: (o.n_computed, o.n_cached) for o in outcomes} == {
        name: (0, 300) for name in TECHNIQUES
    }


def test_import_logs_one_run_per_technique_with_model_revision(imported, ray_run):
    db, _ = imported
    store = Store(db)
    runs = store.list_runs(store.get_project("inbox").id)
    by_technique = {t["name"]: t for t in manifest(ray_run)["techniques"]}
    first = {run.technique: run for run in runs[: len(TECHNIQUES)]}
    assert {name: (r.cache_key, r.model_revision, r.status) for name, r in first.items()} == {
        name: (t["cache_key"], t["model_revision"], "finished") for name, t in by_technique.items()
    }


# --- faults and partial resumption (model-free techniques, quick) ---------------------------


def test_a_corrupt_input_is_named_and_the_others_are_processed(
    ray_instance, workspace, tmp_path, capsys
):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    write_csv(inputs / "good.csv", generated_texts(40, seed=4))
    (inputs / "broken.parquet").write_bytes(b"PAR1 this is not parquet at all")
    code = classify(workspace, tmp_path / "out", [inputs], ["rules", "lexicon"])
    stderr = capsys.readouterr().err
    assert code == 1
    assert "broken.parquet" in stderr
    assert [name.rsplit("-", 1)[0] for name in outputs(tmp_path / "out")] == ["good"]


def test_a_failing_batch_names_its_file_and_batch(ray_instance, workspace, tmp_path, capsys):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    write_csv(inputs / "clean.csv", generated_texts(20, seed=5))
    write_csv(inputs / "poisoned.csv", generated_texts(20, seed=6) + [f"a {POISON} here"])
    code = classify(
        workspace, tmp_path / "out", [inputs], ["test_ray_poison"], "--batch-size", "8"
    )
    stderr = capsys.readouterr().err
    assert code == 1
    failure = next(line for line in stderr.splitlines() if line.startswith("FAILED poisoned.csv"))
    assert "batch" in failure and "the poisoned text was seen" in failure
    assert [name.rsplit("-", 1)[0] for name in outputs(tmp_path / "out")] == ["clean"]


def test_a_removed_output_is_the_only_one_recomputed(ray_instance, workspace, tmp_path):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    write_csv(inputs / "first.csv", generated_texts(30, seed=7))
    write_csv(inputs / "second.csv", generated_texts(30, seed=8))
    output = tmp_path / "out"
    assert classify(workspace, output, [inputs], ["rules"], "--num-actors", "1") == 0
    before = outputs(output)
    removed = next(name for name in before if name.startswith("first-"))
    (output / removed).unlink()
    assert classify(workspace, output, [inputs], ["rules"], "--num-actors", "1") == 0
    after = outputs(output)
    assert set(after) == set(before)
    assert after[removed] != before[removed]
    kept = next(name for name in before if name.startswith("second-"))
    assert after[kept] == before[kept]


def test_other_settings_into_the_same_folder_are_refused(ray_run, workspace, capsys):
    code = classify(workspace, ray_run, [workspace / "inputs"], ["rules"])
    assert code == 2
    assert "other settings" in capsys.readouterr().err


def test_importing_into_a_project_with_another_taxonomy_is_refused(ray_run, workspace, capsys):
    store = Store(workspace / "other.db")
    project = store.create_project("other")
    store.save_taxonomy(project.id, load_taxonomy(TAXONOMY_YAML.replace("name: it", "name: tech")))
    code = main(["--db", str(workspace / "other.db"), "import-predictions", "other", str(ray_run)])
    assert code == 2
    assert "another taxonomy" in capsys.readouterr().err
    assert store.list_runs(project.id) == []
