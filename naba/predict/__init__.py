"""Inference: the Tagger, the streaming batch job behind ``naba predict``, exports and ``naba render``."""

from naba.predict.tagger import Tagger

__all__ = ["Tagger"]
