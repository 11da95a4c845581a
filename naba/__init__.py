"""naba (نبأ): tag actors, locations and claim spans in Arabic news with fine-tuned encoders."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["Tagger", "__version__"]


def __getattr__(name: str):
    # Tagger pulls in torch and transformers; importing naba alone stays light.
    if name == "Tagger":
        from naba.predict import Tagger

        return Tagger
    raise AttributeError(name)
