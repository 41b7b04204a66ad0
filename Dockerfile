# syntax=docker/dockerfile:1
# Build:  docker build -t asean-mt --build-arg TORCH_INDEX_URL=<PyTorch's CPU wheel index> .
#         (without it pip takes torch from PyPI, which on Linux is the larger CUDA build)
# Run:    docker run --rm -p 8000:8000 -v asean-mt-models:/models asean-mt
#         docker run --rm -v asean-mt-models:/models asean-mt models pull Helsinki-NLP/opus-mt-id-en
FROM python:3.11-slim-bookworm AS build
ARG TORCH_INDEX_URL=
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# torch first and pinned, so the package's lower-bounded torch requirement pulls nothing more.
RUN pip install --no-cache-dir torch==2.13.0 ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"}
WORKDIR /src
COPY pyproject.toml README.md ./
COPY service ./service
# Dependencies only: the code runs from /app below, next to its data folders (prompts/, glossary/).
RUN pip install --no-cache-dir . && pip uninstall -y asean-mt

FROM python:3.11-slim-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends apertium apertium-ind-zlm \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 app && mkdir /models /data && chown app /models /data
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY --chown=app service ./service
COPY --chown=app prompts ./prompts
COPY --chown=app glossary ./glossary
COPY --chown=app examples ./examples
ENV PATH=/opt/venv/bin:$PATH PYTHONPATH=/app ASEAN_MT_MODELS_DIR=/models PYTHONUNBUFFERED=1 \
    HF_HOME=/models/.hf-cache ASEAN_MT_DATA_DIR=/data ASEAN_MT_SECRET_KEY_FILE=/data/secret_key
# /models: pulled models; /data: the embedded job store and broker (SQLite), kept across restarts.
VOLUME /models /data
USER app
EXPOSE 8000
# Ready only once the engines are loaded (models can take a minute); /healthz would only say "alive".
HEALTHCHECK --interval=30s --timeout=5s --start-period=180s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4).status != 200)"]
# Exec form, and `serve` replaces itself with gunicorn: SIGTERM reaches gunicorn, which drains requests.
ENTRYPOINT ["python", "-m", "service"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
