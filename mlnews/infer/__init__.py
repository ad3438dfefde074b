"""Inference: the :class:`~mlnews.infer.classifier.Classifier` (torch, TF-IDF and ONNX backends)
and the summariser. Heavy libraries are imported by the submodules, not here."""
