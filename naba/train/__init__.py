"""naba's trainer: configs (``config``), data and batching (``data``), the loop (``loop``), the command.

``from naba.train import load_config, train`` is the programmatic entry point; importing this
package stays light (torch is imported when ``train`` is first used).
"""

from __future__ import annotations

from naba.train.config import TrainConfig, load_config

__all__ = ["TrainConfig", "load_config", "train"]


def __getattr__(name: str):
    if name == "train":
        from naba.train.loop import train

        return train
    raise AttributeError(name)
