"""mlnews: Russian and Ukrainian news pages -> labelled data -> topic classifier and summariser.

The heavy parts (torch, transformers) are imported lazily: ``import mlnews`` is cheap, and
``from mlnews import Classifier, Summariser`` loads the inference layer on first use.
"""

__version__ = "0.1.0"

__all__ = ["__version__", "Classifier", "Summariser"]


def __getattr__(name: str):
    if name == "Classifier":
        from mlnews.infer.classifier import Classifier

        return Classifier
    if name == "Summariser":
        from mlnews.infer.summariser import Summariser

        return Summariser
    raise AttributeError(f"module 'mlnews' has no attribute {name!r}")
