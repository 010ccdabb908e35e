"""Classifier members: the character n-gram linear member and the ONNX encoder member.

Both satisfy ``Member`` (``base.py``): ``heads``, ``classes``, ``predict_proba``, ``save``, ``load``.
"""

from dispatch_nlp.components.members.base import Member, MemberFitter

__all__ = ["Member", "MemberFitter"]
