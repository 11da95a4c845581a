"""naba's trainer: configs (``config``), data and batching (``data``), the loop (``loop``), the command.

``from naba.train import load_config, train`` is the programmatic entry point; importing this
package stays light (torch is imported when ``train`` is first used).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from naba.train.config import TrainConfig, load_config

if TYPE_CHECKING:  # what the lazy __getattr__ hands out, for type checkers (else it is Any)
    from naba.train.loop import train

__all__ = ["TrainConfig", "load_config", "train"]


def __getattr__(name: str):
    if name == "train":
        from naba.train.loop import train

        return train
    raise AttributeError(name)
