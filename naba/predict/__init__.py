"""Inference: the Tagger, the streaming batch job behind ``naba predict``, exports and ``naba render``."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # what the lazy __getattr__ hands out, for type checkers (else it is Any)
    from naba.predict.tagger import Tagger

__all__ = ["Tagger"]


def __getattr__(name: str):
    # the Tagger pulls in torch; the host worker processes (naba.predict.host) import this package
    # too, and stay small without it
    if name == "Tagger":
        from naba.predict.tagger import Tagger

        return Tagger
    raise AttributeError(name)
