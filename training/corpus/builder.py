"""A text assembled from pieces, so that spans survive every rewrite.

Plain pieces may be rewritten by the mess (typos, dialect, dropped punctuation); span pieces (places,
personal data) and protected pieces (the label before a name, the delimiter after it) are never
rewritten except by length-keeping character maps (traditional characters, full-width digits).
"""

from __future__ import annotations

from . import mess

PLAIN, PROTECT, PLACE, PII = 0, 1, 2, 3


class Builder:
    __slots__ = ("pieces",)

    def __init__(self):
        self.pieces: list[list] = []  # [kind, text, info]

    def add(self, *texts: str) -> "Builder":
        for t in texts:
            if t:
                self.pieces.append([PLAIN, t, None])
        return self

    def protect(self, text: str) -> None:
        if text:
            self.pieces.append([PROTECT, text, None])

    def place(self, mention, role: str = "problem") -> None:
        for p in mention.pieces:
            if isinstance(p, str):
                self.add(p)
            else:
                text, code, kind, source = p
                self.pieces.append([PLACE, text, {"code": code, "role": role, "kind": kind, "source": source}])

    def pii(self, label: str, value: str, kind: str, trailer: str) -> None:
        self.protect(label)
        self.pieces.append([PII, value, {"kind": kind}])
        self.protect(trailer)

    def extend(self, other: "Builder") -> None:
        self.pieces.extend(other.pieces)

    def text(self) -> str:
        return "".join(p[1] for p in self.pieces)

    def endswith(self, chars: str) -> bool:
        for p in reversed(self.pieces):
            if p[1]:
                return p[1][-1] in chars
        return False

    # -- the mess -----------------------------------------------------------------------------
    def map_plain(self, fn) -> None:
        for p in self.pieces:
            if p[0] == PLAIN:
                p[1] = fn(p[1])

    def map_all(self, fn) -> None:
        """A length-keeping character map over every piece (traditional characters, full-width)."""
        for p in self.pieces:
            new = fn(p[1])
            if len(new) == len(p[1]):
                p[1] = new

    def spans(self, offset: int = 0) -> tuple[list[dict], list[dict]]:
        places, pii = [], []
        pos = offset
        for kind, text, info in self.pieces:
            end = pos + len(text)
            if kind == PLACE:
                places.append({"start": pos, "end": end, **info})
            elif kind == PII:
                pii.append({"start": pos, "end": end, "kind": info["kind"]})
            pos = end
        return places, pii


def apply_traditional(b: Builder) -> None:
    b.map_all(mess.to_traditional)


def apply_fullwidth(b: Builder) -> None:
    b.map_all(mess.fullwidth)
