"""naba (نبأ): tag actors, locations and claim spans in Arabic news with fine-tuned encoders."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # what the lazy __getattr__ hands out, for type checkers (else it is Any)
    from naba.predict.tagger import Tagger

__version__ = "0.1.0"

__all__ = ["Tagger", "__version__"]


def __getattr__(name: str):
    # Tagger pulls in torch and transformers; importing naba alone stays light.
    if name == "Tagger":
        from naba.predict import Tagger

        return Tagger
    raise AttributeError(name)
