"""The label scheme: named layers of labels, and the mapping from external tag sets.

``configs/labels.yaml`` holds the project's scheme; :data:`DEFAULT_SCHEME` mirrors it in code so
that an installed naba (without the repository's ``configs/``) behaves the same. A test keeps the
two equal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from naba import yamlio
from naba.errors import ConfigError


@dataclass(frozen=True)
class LabelScheme:
    """Layers (``{"entity": ("ACTOR", "LOCATION"), "claim": ("CLAIM",)}``) and a tag mapping."""

    layers: dict[str, tuple[str, ...]]
    mapping: dict[str, str | None] = field(default_factory=dict)
    # the file it was read from (a --labels YAML, a model's naba.json), named where a tag is refused:
    # under a model's own scheme, "unknown label 'PERS'" read as a fault of the corpus file alone
    origin: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not self.layers:
            raise ConfigError("label scheme: no layers (layers: {name: [LABEL, ...]})")
        seen: dict[str, str] = {}
        for layer, labels in self.layers.items():
            # model label names are "layer:B-LABEL", metric names "layer/family/label/metric", and
            # token files split tags at whitespace
            if not _is_name(layer, forbidden=":/"):
                raise ConfigError(
                    f"label scheme: layer {layer!r} may not contain ':', '/' or whitespace, nor be empty"
                )
            if layer in RESERVED_LAYERS:
                raise ConfigError(f"label scheme: layer {layer!r}: the name is taken by the scores over all layers")
            if not labels:
                raise ConfigError(f"label scheme: layer {layer!r} has no labels")
            if isinstance(labels, str):
                # ("CLAIM") is a str, and its letters would be the layer's labels
                raise ConfigError(
                    f"label scheme: layer {layer!r}: labels must be a tuple of names, not the string {labels!r} "
                    f"(one label: ({labels!r},), with the comma)"
                )
            for label in labels:
                if label in seen:
                    raise ConfigError(
                        f"label scheme: label {label!r} is in layers {seen[label]!r} and {layer!r}"
                    )
                if not _is_name(label, forbidden="-:/"):
                    raise ConfigError(
                        f"label scheme: label {label!r} may not contain '-', ':', '/' or whitespace, "
                        "nor be empty"
                    )
                if label in RESERVED_LABELS:
                    raise ConfigError(f"label scheme: label {label!r}: {RESERVED_LABELS[label]}")
                seen[label] = layer
        for tag, target in self.mapping.items():
            if target is not None and (not isinstance(target, str) or target not in seen):
                raise ConfigError(f"label scheme: mapping {tag!r} -> {yamlio.shown(target)}: no such label")
            if tag in seen and target != tag:
                raise ConfigError(
                    f"label scheme: mapping {tag!r} -> {target!r}: {tag!r} is a label of layer {seen[tag]!r} "
                    "and stands for itself (drop the label from its layer instead)"
                )

    @property
    def labels(self) -> tuple[str, ...]:
        """Every label, layer by layer, in the scheme's order."""
        return tuple(label for labels in self.layers.values() for label in labels)

    def layer_of(self, label: str) -> str:
        """The layer holding ``label``; ``KeyError`` for a label of no layer."""
        for layer, labels in self.layers.items():
            if label in labels:
                return layer
        raise KeyError(label)

    def normalize(self, tag: str) -> str | None:
        """Map an external tag to a naba label; ``None`` means drop it.

        Raises ``KeyError`` for a tag that is neither a naba label nor mapped.
        """
        if tag in self.mapping:
            return self.mapping[tag]
        if tag in self.labels:
            return tag
        raise KeyError(tag)

    def restrict(self, layers: list[str] | tuple[str, ...]) -> LabelScheme:
        """The same scheme with only ``layers`` (labels of other layers map to ``None``)."""
        unknown = [name for name in layers if name not in self.layers]
        if unknown:
            raise ConfigError(f"label scheme has no layer(s) {unknown}; it has {list(self.layers)}")
        kept = {name: self.layers[name] for name in layers}
        kept_labels = {label for labels in kept.values() for label in labels}
        mapping = {t: (v if v in kept_labels else None) for t, v in self.mapping.items()}
        mapping.update({label: None for label in self.labels if label not in kept_labels})
        return LabelScheme(kept, mapping)

    def to_dict(self) -> dict:
        """``{"layers": {layer: [labels]}, "mapping": {tag: label | None}}``, as the YAML file holds it."""
        return {"layers": {k: list(v) for k, v in self.layers.items()}, "mapping": dict(self.mapping)}

    @classmethod
    def from_dict(cls, data: dict, *, source: str = "<memory>") -> LabelScheme:
        """The scheme of :meth:`to_dict`'s shape; ConfigError naming ``source`` when it is not one."""
        if not isinstance(data, dict) or not isinstance(data.get("layers"), dict):
            raise ConfigError(f"{source}: a label scheme needs a 'layers' mapping")
        unknown = set(data) - {"layers", "mapping"}
        if unknown:
            # key=str: YAML keys need not be text (1:, yes:), and sorting an int beside a str raised TypeError
            raise ConfigError(f"{source}: unknown key(s) {sorted(unknown, key=str)} in label scheme")
        layers = {}
        for name, labels in data["layers"].items():
            if not isinstance(name, str):
                raise ConfigError(f"{source}: layer name {name!r} is not text to YAML{_QUOTE}")
            if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
                raise ConfigError(f"{source}: layer {name!r} must be a list of label names{_QUOTE}")
            layers[name] = tuple(labels)
        mapping = data.get("mapping") or {}
        if not isinstance(mapping, dict):
            raise ConfigError(f"{source}: 'mapping' must be a mapping of tag -> label or null")
        for tag in mapping:
            if not isinstance(tag, str):
                raise ConfigError(f"{source}: mapping tag {tag!r} is not text to YAML{_QUOTE}")
        try:
            return cls(layers, dict(mapping), origin=None if source == "<memory>" else source)
        except ConfigError as exc:
            raise ConfigError(f"{source}: {exc}") from None

    @classmethod
    def load(cls, path: str | Path) -> LabelScheme:
        """The scheme in a YAML file such as ``configs/labels.yaml``; ConfigError naming the file."""
        path = Path(path)
        data = yamlio.load_file(path, "label scheme")
        return cls.from_dict(data, source=str(path))


# names naba's outputs already use: BIO's outside tag, and the averages beside per-label (and, in
# training's scores, per-layer) results, which a label or layer of that name would overwrite
RESERVED_LABELS = {
    "O": "'O' is BIO's outside tag",
    "micro": "the name is taken by the micro average in the scores",
    "macro": "the name is taken by the macro average in the scores",
}
RESERVED_LAYERS = ("micro",)
_QUOTE = " (YAML reads yes, no, on, off, true, false, null and numbers as such: quote a name like that)"


def _is_name(name: object, *, forbidden: str) -> bool:
    return (
        isinstance(name, str) and bool(name) and not any(c.isspace() or c in forbidden for c in name)
    )


DEFAULT_SCHEME = LabelScheme(
    layers={"entity": ("ACTOR", "LOCATION"), "claim": ("CLAIM",)},
    mapping={
        "PERS": "ACTOR",
        "PER": "ACTOR",
        "PERSON": "ACTOR",
        "ORG": "ACTOR",
        "LOC": "LOCATION",
        "GPE": "LOCATION",
        "MISC": None,
    },
)


def origin_note(scheme: LabelScheme) -> str:
    """``" (label scheme of FILE)"`` for a scheme read from a file, for messages; else nothing."""
    return f" (label scheme of {scheme.origin})" if scheme.origin else ""
