"""naba's own error types: every problem with user data names its file, its record and the reason."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input: where it is and why it is wrong.

    ``where`` is a human locator such as ``"line 12"``, ``"record 3 (id=doc-7)"`` or
    ``"T4"``; ``source`` is the file path (or ``"<memory>"``).
    """

    source: str
    where: str
    reason: str

    def __str__(self) -> str:
        loc = f"{self.source}: {self.where}" if self.where else self.source
        return f"{loc}: {self.reason}"


class DataError(ValueError):
    """Input data is invalid. Carries every :class:`Problem` found, not just the first."""

    def __init__(self, problems: list[Problem] | Problem | str, *, about: str = "the input") -> None:
        """``about`` is what the problems are in, for the message: ``"the output"`` where a file
        cannot be written."""
        if isinstance(problems, str):
            problems = [Problem("<memory>", "", problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = list(problems)
        shown = "\n".join(f"  {p}" for p in self.problems[:20])
        more = f"\n  ... and {len(self.problems) - 20} more" if len(self.problems) > 20 else ""
        super().__init__(f"{len(self.problems)} problem(s) in {about}:\n{shown}{more}")


class ConfigError(ValueError):
    """A run configuration is invalid (unknown key, bad value, missing file)."""


class ModelLoadError(RuntimeError):
    """A model or tokenizer could not be loaded (for example a hub id while offline)."""
