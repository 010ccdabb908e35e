"""Fit the linear member: char n-gram TF-IDF + one LinearSVC per head, pruned and calibrated.

``fit_linear(train_texts, train_labels, dev_texts, dev_labels) -> LinearMember``; labels are
``{head: [label, ...]}``. The analyzer is the member's own ``Analyzer.grams`` (``fields``: the text
alone, or with its title and problem statement in their own namespaces), so the runtime computes
exactly the features scikit-learn saw. ``C`` is a number or a sequence of candidates, chosen per head
by ``select_c`` (k-fold cross-validated accuracy on the training rows). Coefficients are pruned to the
largest ``max_nnz`` weights per head (the shipped model must stay small) and each head's softmax
temperature is fitted on dev.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.svm import LinearSVC

from dispatch_nlp.components.members.linear import Analyzer, LinearMember, softmax

log = logging.getLogger(__name__)


def fit_temperature(scores: np.ndarray, y: np.ndarray) -> float:
    """The softmax temperature that minimizes the negative log-likelihood of the true labels."""
    best_t, best_nll = 1.0, float("inf")
    for t in np.exp(np.linspace(np.log(0.02), np.log(5.0), 60)):
        p = softmax(scores, float(t))
        nll = -np.mean(np.log(np.clip(p[np.arange(len(y)), y], 1e-12, None)))
        if nll < best_nll:
            best_t, best_nll = float(t), nll
    return best_t


def _prune(coef: np.ndarray, max_nnz: int) -> sp.csr_matrix:
    """Keep the ``max_nnz`` largest-magnitude weights (features x classes, CSR)."""
    w = coef.T.astype(np.float32)  # features x classes
    if w.size > max_nnz:
        cut = np.partition(np.abs(w).ravel(), w.size - max_nnz)[w.size - max_nnz]
        w = np.where(np.abs(w) >= cut, w, 0.0)
    return sp.csr_matrix(w)


def select_c(x: sp.csr_matrix, y: np.ndarray, candidates: Sequence[float], folds: int = 3, seed: int = 13) -> float:
    """The regularisation (LinearSVC ``C``) with the best mean k-fold accuracy on ``(x, y)``; ties go
    to the smaller C (the stronger regularisation). One candidate: itself, nothing fitted."""
    from sklearn.model_selection import KFold

    if len(candidates) == 1:
        return float(candidates[0])
    splits = list(KFold(folds, shuffle=True, random_state=seed).split(np.arange(len(y))))
    best_c, best_acc = float(candidates[0]), -1.0
    for c in sorted(candidates):
        accs = [float((LinearSVC(C=c, dual=True, max_iter=3000).fit(x[tr], y[tr]).predict(x[te]) == y[te]).mean())
                for tr, te in splits]
        acc = float(np.mean(accs))
        log.info("linear C=%g: %d-fold accuracy %.4f", c, folds, acc)
        if acc > best_acc + 1e-4:
            best_c, best_acc = float(c), acc
    return best_c


def fit_linear(train_texts: list[str], train_labels: dict[str, list[str]], dev_texts: list[str],
               dev_labels: dict[str, list[str]], *, max_features: int = 120_000, min_df: int = 2,
               C: float | Sequence[float] = 0.5, max_nnz: int = 1_500_000,
               fields: Sequence[str] = ("text",), cv_heads: Sequence[str] = ("leaf",)) -> LinearMember:
    """The member fitted on the training rows (see the module docstring); ``cv_heads``: the heads whose
    C is chosen by cross-validation when ``C`` is a sequence (the others take its first value)."""
    analyzer = Analyzer(tuple(fields))
    vec = TfidfVectorizer(analyzer=analyzer.grams, sublinear_tf=True, min_df=min_df, max_features=max_features,
                          dtype=np.float32)
    x_train = vec.fit_transform(train_texts)
    vocab = {g: int(i) for g, i in vec.vocabulary_.items()}
    member = LinearMember(vocab, vec.idf_.astype(np.float32), {}, analyzer)
    candidates = [float(C)] if isinstance(C, (int, float)) else [float(c) for c in C]
    x_dev = member.features(dev_texts) if dev_texts else None
    for head, labels in train_labels.items():
        classes = sorted(set(labels))
        if len(classes) < 2:
            log.warning("head %s has a single class in training; skipped", head)
            continue
        index = {c: i for i, c in enumerate(classes)}
        y = np.array([index[v] for v in labels])
        c = select_c(x_train, y, candidates) if head in cv_heads else candidates[0]
        clf = LinearSVC(C=c, dual=True, max_iter=3000)
        clf.fit(x_train, y)
        coef, intercept = clf.coef_, clf.intercept_
        if len(classes) == 2:  # liblinear gives one row for two classes
            coef = np.vstack([-coef[0], coef[0]])
            intercept = np.array([-intercept[0], intercept[0]])
        member.heads[head] = {"coef": _prune(coef, max_nnz), "intercept": intercept.astype(np.float32),
                              "classes": classes, "temperature": 1.0, "C": c}
        dev_y = [index.get(v, -1) for v in dev_labels.get(head, [])]
        keep = [i for i, v in enumerate(dev_y) if v >= 0]
        if x_dev is not None and keep:
            s = np.asarray((x_dev[keep] @ member.heads[head]["coef"]).todense()) + intercept[None, :]
            member.heads[head]["temperature"] = fit_temperature(s, np.array([dev_y[i] for i in keep]))
    return member
