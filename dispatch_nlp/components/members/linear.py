"""The linear member: character n-gram TF-IDF features and sparse linear heads, in numpy/scipy.

Training (``training/linear.py``) fits scikit-learn models on features from ``Analyzer.grams`` (the
same function, passed as the vectorizer's analyzer), then saves everything the runtime needs in one
``.npz`` (no pickles): the n-gram vocabulary, idf weights, the analyzer's settings, and per head a
sparse coefficient matrix, intercepts, class labels and a softmax temperature fitted on the dev split.

The analyzer reads fields, each in its own feature namespace: ``text`` (the whole order, always),
``title`` (its title line) and ``statement`` (its problem statement, ``components/statement.py``), so
the same words weigh differently where they state the problem. A member saved before fields existed
reads the text alone. Inputs are texts or ``OrderFields`` (text and the statement stage's statement).

``LinearMember.load(model_dir, "linear.npz")`` (or ``load(path)``); ``member.scores(texts) -> {head: (n,
classes) array}`` and ``member.predict_proba(texts)`` (temperature-scaled softmax). It satisfies
``dispatch_nlp.components.members.base.Member``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import scipy.sparse as sp

from dispatch_nlp.components.statement import OrderFields, problem_statement, title_of
from dispatch_nlp.errors import ModelError

NGRAM_RANGE = (1, 3)
# Placeholders from PII masking become one symbol each so they do not spread n-grams over "<手机号>".
_PLACEHOLDER_SYMBOL = {"<手机号>": "☎", "<电话>": "☎", "<身份证号>": "Ⓘ", "<银行卡号>": "Ⓑ", "<邮箱>": "✉",
                       "<车牌号>": "Ⓟ", "<姓名>": "Ⓝ", "<数字串>": "#"}


_PUNCT = re.compile(r"^[\W_]+$")


def _compact(text: str) -> str:
    for ph, sym in _PLACEHOLDER_SYMBOL.items():
        if ph in text:
            text = text.replace(ph, sym)
    # Digits carry little beyond "a number is here"; runs of them blow up the vocabulary.
    return "".join("0" if ch.isdigit() else ch for ch in text.lower())


def char_ngrams(text: str, ngram_range: tuple[int, int] = NGRAM_RANGE) -> list[str]:
    """Character n-grams of the normalized, masked text (the analyzer used in training and here)."""
    t = _compact(text)
    lo, hi = ngram_range
    n = len(t)
    grams: list[str] = []
    for k in range(lo, hi + 1):
        for i in range(n - k + 1):
            g = t[i: i + k]
            if not g.isspace():
                grams.append(g)
    return grams


FIELDS = ("text", "title", "statement", "words")
# The prefix of a field's features (text: none). ``words``: word unigrams of two or more characters
# and word bigrams of the text, segmented by the segmenter's own dictionary (no catalog or place
# words, so training and every city's runtime segment alike).
_NAMESPACE = {"title": "\u00a7t", "statement": "\u00a7s", "words": "\u00a7w"}


def word_ngrams(text: str) -> list[str]:
    """Word unigrams (two characters or more) and bigrams of the compacted text."""
    from dispatch_nlp.text.segment import Segmenter

    words = [w for w in Segmenter((), "rjieba").words(_compact(text)) if w.strip() and not _PUNCT.match(w)]
    grams = [w for w in words if len(w) > 1]
    grams += [a + "\u00b7" + b for a, b in zip(words, words[1:])]
    return grams


@dataclass(frozen=True)
class Analyzer:
    """Which fields the member reads and the n-gram range: ``grams(order)`` is the feature list of one
    order (a text or ``OrderFields``), each field's n-grams behind its namespace prefix."""

    fields: tuple[str, ...] = ("text",)
    ngram_range: tuple[int, int] = NGRAM_RANGE

    def __post_init__(self) -> None:
        unknown = [f for f in self.fields if f not in FIELDS]
        if unknown or "text" not in self.fields:
            raise ModelError(f"linear member fields {list(self.fields)}: expected text plus any of title, statement")

    def grams(self, order: str | OrderFields) -> list[str]:
        text, statement = (order, None) if isinstance(order, str) else (order.text, order.statement)
        grams = char_ngrams(text, self.ngram_range)
        if "title" in self.fields:
            grams += [_NAMESPACE["title"] + g for g in char_ngrams(title_of(text), self.ngram_range)]
        if "words" in self.fields:
            grams += [_NAMESPACE["words"] + g for g in word_ngrams(text)]
        if "statement" in self.fields:
            if statement is None:
                statement = problem_statement(text)
            grams += [_NAMESPACE["statement"] + g for g in char_ngrams(statement, self.ngram_range)]
        return grams

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: str) -> Analyzer:
        d = json.loads(raw)
        return cls(tuple(d.get("fields", ("text",))), cast(tuple[int, int], tuple(d.get("ngram_range", NGRAM_RANGE))))


def softmax(scores: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = scores / max(temperature, 1e-6)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class LinearMember:
    """Char n-gram TF-IDF (per field, ``Analyzer``) → one sparse linear layer per head."""

    def __init__(self, vocab: dict[str, int], idf: np.ndarray, heads: dict[str, dict],
                 analyzer: Analyzer | None = None):
        self.vocab = vocab
        self.idf = idf.astype(np.float32)
        self.heads = heads  # head -> {"coef": csr (features x classes), "intercept", "classes", "temperature"}
        self.analyzer = analyzer or Analyzer()
        self._joined_cache: dict[tuple, tuple[sp.csr_matrix, list[tuple[int, int]]]] = {}

    # -- persistence -----------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        arrays: dict[str, np.ndarray] = {
            "vocab": np.array(sorted(self.vocab, key=self.vocab.__getitem__), dtype=str),
            "idf": self.idf,
            "heads": np.array(sorted(self.heads), dtype=str),
        }
        if self.analyzer != Analyzer():  # a text-only member stays byte-compatible with older readers
            arrays["analyzer"] = np.array(self.analyzer.to_json(), dtype=str)
        for name, h in self.heads.items():
            coef = sp.csr_matrix(h["coef"])
            arrays[f"{name}.data"] = coef.data.astype(np.float16)
            arrays[f"{name}.indices"] = coef.indices.astype(np.int32)
            arrays[f"{name}.indptr"] = coef.indptr.astype(np.int64)
            arrays[f"{name}.shape"] = np.array(coef.shape, dtype=np.int64)
            arrays[f"{name}.intercept"] = np.asarray(h["intercept"], dtype=np.float32)
            arrays[f"{name}.classes"] = np.array(h["classes"], dtype=str)
            arrays[f"{name}.temperature"] = np.array([h.get("temperature", 1.0)], dtype=np.float32)
        np.savez_compressed(path, **cast(dict[str, Any], arrays))

    @classmethod
    def load(cls, model_dir: str | Path, section: str | dict | None = None) -> LinearMember:
        """``load(model_dir, "linear.npz")`` (the config's ``classifier.linear`` entry: the file, or
        ``{"file": "linear.npz", "input": "fields"}``) or ``load(path)``."""
        if isinstance(section, dict):
            section = str(section.get("file", "linear.npz"))
        path = Path(model_dir) / section if section is not None else Path(model_dir)
        try:
            with np.load(path, allow_pickle=False) as z:
                vocab = {g: i for i, g in enumerate(z["vocab"].tolist())}
                idf = z["idf"]
                analyzer = Analyzer.from_json(str(z["analyzer"])) if "analyzer" in z.files else Analyzer()
                heads = {}
                for name in z["heads"].tolist():
                    coef = sp.csr_matrix(
                        (z[f"{name}.data"].astype(np.float32), z[f"{name}.indices"], z[f"{name}.indptr"]),
                        shape=tuple(z[f"{name}.shape"]),
                    )
                    heads[name] = {
                        "coef": coef,
                        "intercept": z[f"{name}.intercept"],
                        "classes": z[f"{name}.classes"].tolist(),
                        "temperature": float(z[f"{name}.temperature"][0]),
                    }
        except (OSError, KeyError, ValueError, ModelError) as exc:
            raise ModelError(f"{path}: not a readable linear member ({type(exc).__name__}: {exc})") from None
        return cls(vocab, idf, heads, analyzer)

    # -- inference -------------------------------------------------------------------------------
    def features(self, texts: Sequence[str | OrderFields]) -> sp.csr_matrix:
        """Sublinear-tf × idf, L2-normalized rows (as scikit-learn's TfidfVectorizer computes them)."""
        indptr = [0]
        indices: list[int] = []
        data: list[float] = []
        vocab = self.vocab
        grams = self.analyzer.grams
        for text in texts:
            counts: dict[int, int] = {}
            for g in grams(text):
                j = vocab.get(g)
                if j is not None:
                    counts[j] = counts.get(j, 0) + 1
            if counts:
                idx = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
                tf = np.fromiter(counts.values(), dtype=np.float32, count=len(counts))
                vals = (1.0 + np.log(tf)) * self.idf[idx]
                vals /= np.linalg.norm(vals) or 1.0
                indices.extend(idx.tolist())
                data.extend(vals.tolist())
            indptr.append(len(indices))
        return sp.csr_matrix((np.array(data, dtype=np.float32), np.array(indices, dtype=np.int64), np.array(indptr)),
                             shape=(len(texts), len(self.idf)))

    def scores(self, texts: Sequence[str | OrderFields], heads: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        x = self.features(texts)
        names = list(heads or self.heads)
        coef, bounds = self._joined(names)
        z = np.asarray((x @ coef).todense())
        return {name: z[:, a:b] + self.heads[name]["intercept"][None, :]
                for name, (a, b) in zip(names, bounds, strict=True)}

    def _joined(self, names: list[str]) -> tuple[sp.csr_matrix, list[tuple[int, int]]]:
        """The heads' coefficient matrices side by side (one sparse product for all heads costs less
        than one per head; the sums are the same), and each head's columns in it. Cached per set of
        heads and rebuilt if a head's matrix is replaced."""
        key = tuple((name, id(self.heads[name]["coef"])) for name in names)
        cached = self._joined_cache.get(key)
        if cached is None:
            coefs = [sp.csr_matrix(self.heads[name]["coef"]) for name in names]
            edges = np.cumsum([0] + [c.shape[1] for c in coefs]).tolist()
            joined = coefs[0] if len(coefs) == 1 else sp.hstack(coefs, format="csr")
            cached = self._joined_cache[key] = (joined, list(zip(edges, edges[1:])))
        return cached

    def predict_proba(self, texts: Sequence[str | OrderFields], heads: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        return {name: softmax(s, self.heads[name]["temperature"]) for name, s in self.scores(texts, heads).items()}

    probs = predict_proba  # the name before the Member protocol

    def classes(self, head: str) -> list[str]:
        return self.heads[head]["classes"]
