"""Models: naming, loading and running the models behind the model techniques.

catalog.py          the names: default and known models (NLI, NER, summary, embeddings,
                    spaCy), the packaged MiniLM and its sha256, tasks, devices, precisions;
                    plain constants, no torch (`-t rules` and the UI read it cheaply)
loading.py          the one place that loads models: device (cuda > mps > cpu), dtype,
                    safetensors only, no remote code, packaged MiniLM sha256-checked,
                    cached per (task, model, device, dtype); ModelLoadError and its kinds
batching.py         the token-budget batcher shared by nli.py and encoder.py: padded tokens
                    per forward pass (default_batch_tokens), length-sorted runs
encoder.py          sentence embeddings: Sift's fast path over a sentence-transformers model
                    (`encode`: tokenise once, length-sorted batches, pool, normalise)
embedding_cache.py  sentence embeddings per (model, revision, device, dtype, text digest),
                    computed once per process and shared by the embeddings and supervised
                    techniques, learning and the review queue (document_embeddings)
nli.py              the batched NLI engine behind zero_shot (pairs sorted by length, texts
                    tokenised once, duplicates computed once)
entities.py         entities from spaCy, a token-classification model, business patterns
summaries.py        extractive (central sentences) and abstractive (seq2seq generate)

Import the module you need (`from core.models.loading import load_model`): this package
imports nothing itself, so `import core.models.catalog` never loads torch. Nothing here
imports `core.techniques`; the techniques import these modules.
"""
