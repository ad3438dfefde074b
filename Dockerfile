# mlnews serve on CPU: a slim image, non-root, the model folder mounted at run time (never baked in).
#   docker build -t mlnews .
#   docker run --rm -p 8000:8000 -v "$PWD/runs/e5-small-onnx-int8:/models/classifier:ro" mlnews
# See docs/docker.md. tests/test_docker.py checks these lines against README.md and docs/docker.md.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    MLNEWS_CACHE=/tmp/mlnews-cache

WORKDIR /app
COPY pyproject.toml README.md ./
COPY mlnews ./mlnews
# torch from the CPU wheel index: the default index resolves to a multi-GB CUDA build.
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu \
 && pip install ".[serve,onnx]" \
 && useradd --create-home --uid 10001 mlnews

USER mlnews
EXPOSE 8000
VOLUME ["/models"]
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s \
  CMD python -c "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/ready').status != 200)"
ENTRYPOINT ["mlnews", "serve", "--host", "0.0.0.0", "--port", "8000"]
CMD ["--classifier", "/models/classifier", "--summariser", "lead"]
