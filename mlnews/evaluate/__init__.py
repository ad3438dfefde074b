"""Evaluation: classifier and summariser scoring, metrics and ROUGE (above ``mlnews.infer``).

* :mod:`mlnews.evaluate.metrics` - accuracy, macro-F1 (one implementation), per class / language /
  source, the paired bootstrap, confusion-matrix artefacts;
* :mod:`mlnews.evaluate.rouge` - ROUGE-1/2/L on razdel tokens and chrF;
* :mod:`mlnews.evaluate.classifier` - score a :class:`~mlnews.infer.classifier.Classifier` on rows;
* :mod:`mlnews.evaluate.summariser` - score a :class:`~mlnews.infer.summariser.Summariser` on articles.

``mlnews evaluate`` and ``mlnews train`` both call these, through the same loaders users use.
"""
