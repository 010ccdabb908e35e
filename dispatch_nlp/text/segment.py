"""Word segmentation with a user dictionary of catalog keywords and place names.

``Segmenter(user_words, engine)`` loads the dictionary once; ``segmenter.tokenize(text)`` returns
``[(word, start, end), ...]`` over the given text. Placeholders left by PII masking (``<手机号>``) are
kept as single tokens. Both engines share one process-wide dictionary per (engine, word set) and are
safe to call from several threads once loaded.

Engines: ``jieba`` (pure Python) and ``rjieba`` (the same algorithm and dictionary in Rust). The
benchmark ``benchmarks/segment_bench.py`` measures both on the same dictionary; see the README for the
figures and which is the default.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections.abc import Iterable
from typing import Any

log = logging.getLogger(__name__)

_PLACEHOLDER_RE = re.compile(r"<[\u4e00-\u9fa5]{2,5}>")
_cache: dict[tuple[str, str], object] = {}
_cache_lock = threading.Lock()

ENGINES = ("jieba", "rjieba")


def _words_key(words: list[str]) -> str:
    return hashlib.sha1("\n".join(words).encode("utf-8")).hexdigest()


def _build(engine: str, words: list[str]):
    if engine == "jieba":
        import jieba

        jieba.setLogLevel(logging.WARNING)
        tok = jieba.Tokenizer()
        tok.initialize()
        for w in words:
            tok.add_word(w, freq=max(tok.suggest_freq(w, tune=False), 1000))
        return tok
    if engine == "rjieba":
        import rjieba

        tok = rjieba.Jieba()
        for w in words:
            tok.add_word(w, 1000, None)
        return tok
    raise ValueError(f"unknown segmentation engine {engine!r}; choose one of {', '.join(ENGINES)}")


class Segmenter:
    """Tokenize text into words with offsets. ``user_words`` are added with a high frequency so that
    catalog phrases and place names come out whole."""

    def __init__(self, user_words: Iterable[str] = (), engine: str = "rjieba"):
        words = sorted({w.strip() for w in user_words if w and w.strip() and " " not in w.strip()})
        self.engine = engine
        key = (engine, _words_key(words))
        with _cache_lock:
            tok = _cache.get(key)
            if tok is None:
                tok = _build(engine, words)
                _cache[key] = tok
        self._tok: Any = tok  # a jieba.Tokenizer or an rjieba module: both have cut()
        self.n_user_words = len(words)

    def _cut(self, text: str) -> list[str]:
        if self.engine == "jieba":
            return list(self._tok.cut(text, HMM=True))
        return list(self._tok.cut(text, True))

    def tokenize(self, text: str) -> list[tuple[str, int, int]]:
        tokens: list[tuple[str, int, int]] = []
        pos = 0
        for m in _PLACEHOLDER_RE.finditer(text):
            self._add(tokens, text[pos:m.start()], pos)
            tokens.append((m.group(), m.start(), m.end()))
            pos = m.end()
        self._add(tokens, text[pos:], pos)
        return tokens

    def _add(self, tokens: list[tuple[str, int, int]], chunk: str, base: int) -> None:
        if not chunk:
            return
        pos = base
        for word in self._cut(chunk):
            tokens.append((word, pos, pos + len(word)))
            pos += len(word)

    def words(self, text: str) -> list[str]:
        return [w for w, _, _ in self.tokenize(text)]
