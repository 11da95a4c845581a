"""Corpus layer: documents with character spans, the label scheme, readers, writers and splits."""

from naba.corpus.document import Document, Span
from naba.corpus.labels import DEFAULT_SCHEME, LabelScheme

__all__ = ["DEFAULT_SCHEME", "Document", "LabelScheme", "Span"]
