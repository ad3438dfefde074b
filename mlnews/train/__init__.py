"""Training: topic classifier (transformer via the HF Trainer, or TF-IDF) and the summariser.

``mlnews train CONFIG.yaml --out DIR`` (see :mod:`mlnews.cli.train`) dispatches on the config's
``task``. Config schemas live in :mod:`mlnews.train.config`.
"""
