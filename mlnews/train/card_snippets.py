"""Usage snippets of the model cards (:mod:`mlnews.train.card`): plain transformers, onnxruntime + tokenizers, skops.

Each builds the model input exactly as :func:`mlnews.text.compose_text` does, from the folder's
manifest values, and prints the labels of three examples; tests execute them against ``Classifier``.
"""

_COMPOSE = '''MODEL = $model_path_repr
PREFIX, USE_LEAD, BODY_CHARS, MAX_LENGTH = $prefix_repr, $use_lead, $body_chars, $max_length


def model_input(title, lead="", body=""):
    """The layout this model was trained on: title, lead, the start of the body (one per line), prefixed."""
    parts = [title.strip()]
    if USE_LEAD and lead:
        parts.append(lead.strip())
    body = body.strip()
    if BODY_CHARS > 0 and body:
        snippet = body[:BODY_CHARS]
        if len(body) > BODY_CHARS and snippet.rfind(" ") > BODY_CHARS // 2:
            snippet = snippet[: snippet.rfind(" ")]
        parts.append(snippet)
    return PREFIX + "\\n".join(p for p in parts if p)


examples = [  # (title, lead, body)
    ("Курс рубля упал до минимума с весны", "", ""),
    ("«Шахтар» переміг «Динамо» у принциповому матчі", "Команда забила два голи в другому таймі.", ""),
    ("Учёные нашли новый вид бактерий в вечной мерзлоте", "", "Исследователи из Якутска описали микроорганизмы, которые пережили тысячи лет во льду."),
]
texts = [model_input(*e) for e in examples]
'''

TRANSFORMERS = '''import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

''' + _COMPOSE + '''
tokenizer = AutoTokenizer.from_pretrained(MODEL)
model = AutoModelForSequenceClassification.from_pretrained(MODEL).eval()
batch = tokenizer(texts, padding=True, truncation=True, max_length=MAX_LENGTH, return_tensors="pt")
with torch.no_grad():
    probs = model(**batch).logits.softmax(-1)
labels = [model.config.id2label[i] for i in probs.argmax(-1).tolist()]
print(labels)
'''

ONNX = '''import json

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

''' + _COMPOSE + '''
tokenizer = Tokenizer.from_file(f"{MODEL}/tokenizer.json")
tokenizer.enable_truncation(MAX_LENGTH)
tokenizer.enable_padding(pad_id=tokenizer.token_to_id($pad_token_repr), pad_token=$pad_token_repr)
session = ort.InferenceSession(f"{MODEL}/model.onnx", providers=["CPUExecutionProvider"])
id2label = json.load(open(f"{MODEL}/config.json", encoding="utf-8"))["id2label"]
enc = tokenizer.encode_batch(texts)
feeds = {"input_ids": [e.ids for e in enc], "attention_mask": [e.attention_mask for e in enc],
         "token_type_ids": [e.type_ids for e in enc]}
inputs = {i.name for i in session.get_inputs()}
logits = session.run(["logits"], {k: np.array(v, dtype=np.int64) for k, v in feeds.items() if k in inputs})[0]
labels = [id2label[str(i)] for i in logits.argmax(-1).tolist()]
print(labels)
'''

EMBEDDING = '''import skops.io as sio
import torch
from transformers import AutoModel, AutoTokenizer

''' + _COMPOSE + '''
tokenizer = AutoTokenizer.from_pretrained(MODEL)
encoder = AutoModel.from_pretrained(MODEL).eval()
batch = tokenizer(texts, padding=True, truncation=True, max_length=MAX_LENGTH, return_tensors="pt")
with torch.no_grad():
    hidden = encoder(**batch).last_hidden_state
mask = batch["attention_mask"].unsqueeze(-1).float()
embeddings = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1).numpy()
path = f"{MODEL}/head.skops"
untrusted = sio.get_untrusted_types(file=path)  # scikit-learn types only: check the list before trusting it
head = sio.load(path, trusted=untrusted)
labels = [str(x) for x in head.predict(embeddings)]
print(labels)
'''

STATIC = '''import numpy as np
import skops.io as sio
from safetensors.numpy import load_file
from tokenizers import Tokenizer

''' + _COMPOSE + '''
table = load_file(f"{MODEL}/model.safetensors")["embeddings"].astype(np.float32)  # [pieces, dims]
tokenizer = Tokenizer.from_file(f"{MODEL}/tokenizer.json")
tokenizer.no_padding()
tokenizer.enable_truncation(MAX_LENGTH)
pieces = tokenizer.encode_batch(texts, add_special_tokens=False)
vectors = np.stack([table[e.ids].sum(axis=0) for e in pieces])  # the sum of the pieces' rows ...
norms = np.linalg.norm(vectors, axis=1, keepdims=True)
vectors = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)  # ... at unit length
path = f"{MODEL}/head.skops"
untrusted = sio.get_untrusted_types(file=path)  # scikit-learn types only: check the list before trusting it
head = sio.load(path, trusted=untrusted)
labels = [str(x) for x in head.predict(vectors)]
print(labels)
'''

TFIDF = '''import skops.io as sio

''' + _COMPOSE + '''
path = f"{MODEL}/model.skops"
untrusted = sio.get_untrusted_types(file=path)  # scikit-learn types only: check the list before trusting it
pipeline = sio.load(path, trusted=untrusted)
labels = [str(x) for x in pipeline.predict(texts)]
print(labels)
'''
