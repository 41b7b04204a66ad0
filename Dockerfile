# syntax=docker/dockerfile:1
# Build:  docker build -t asean-mt --build-arg TORCH_INDEX_URL=<PyTorch's CPU wheel index> .
#         (without it pip takes torch from PyPI, which on Linux is the larger CUDA build)
# Run:    docker run --rm -v asean-mt-models:/models asean-mt models list
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
    && useradd --create-home --uid 10001 app && mkdir /models && chown app /models
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY --chown=app service ./service
COPY --chown=app prompts ./prompts
COPY --chown=app glossary ./glossary
COPY --chown=app examples ./examples
ENV PATH=/opt/venv/bin:$PATH PYTHONPATH=/app ASEAN_MT_MODELS_DIR=/models PYTHONUNBUFFERED=1 \
    HF_HOME=/models/.hf-cache
VOLUME /models
USER app
ENTRYPOINT ["python", "-m", "service"]
CMD ["models", "list"]
