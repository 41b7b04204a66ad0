# syntax=docker/dockerfile:1
# Two images from one file (scripts/image.sh builds, runs and tests them with docker or podman):
#   runtime (the default, last stage): CTranslate2 + Apertium + the service, no torch. It serves models already
#            converted to CTranslate2: a models volume filled by the full image, or `models add` of such a folder.
#   full:    runtime + torch, for `models pull` / `models add` (they convert) and the transformers engine.
#
#   docker build -t asean-mt:runtime .                 docker build --target full -t asean-mt:full .
#   docker run --rm -p 8000:8000 -v asean-mt-models:/models -v asean-mt-data:/data asean-mt:runtime
#   docker run --rm -v asean-mt-models:/models asean-mt:full models pull Helsinki-NLP/opus-mt-id-en
#
# pip's configuration (a private index or mirror, find-links, a proxy's CA certificate) comes in as build
# secrets, never as build args (those stay in the image's history) nor in a layer:
#   --secret id=pipconf,src=PIP.CONF   a pip.conf; with a CA bundle it says `cert = /run/secrets/pipca`
#   --secret id=pipca,src=CA.pem
# scripts/image.sh writes both from the building machine's own pip settings (pip config list, PIP_* variables).
#
# HEALTHCHECK: OCI-format images (podman's and buildah's default) drop it; build with `--format docker` (the
# script does), or let the orchestrator probe /readyz (compose.yaml and deploy/k8s/ do).

# A Debian bookworm image with Python 3.11 as python3. Where no registry is reachable, `scripts/image.sh base`
# builds one with debootstrap and Debian's python3, and tags it with this name.
ARG BASE_IMAGE=python:3.11-slim-bookworm

# ---- what both images run on: Apertium from Debian, the user, the two writable folders ------------------------
FROM ${BASE_IMAGE} AS os
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends apertium apertium-ind-zlm \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb \
    && useradd --system --uid 10001 --gid 0 --home-dir /data --no-create-home --shell /usr/sbin/nologin app \
    && mkdir -p /models /data && chown 10001:0 /models /data && chmod 0770 /models /data

# ---- the virtual environments: dependencies from pyproject.toml alone, so code changes keep these layers -----
FROM ${BASE_IMAGE} AS venv
ENV PATH=/opt/venv/bin:$PATH PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python3 -m venv /opt/venv
COPY pyproject.toml scripts/requirements.py /tmp/req/
# `asean-mt` on PATH: an editable install points the venv at /app, where the code lives beside prompts/ and
# glossary/ (copied in the last stage; an empty package stands in for it here, so this layer survives code changes).
RUN --mount=type=secret,id=pipconf,target=/run/secrets/pipconf \
    --mount=type=secret,id=pipca,target=/run/secrets/pipca \
    python3 /tmp/req/requirements.py > /tmp/req/runtime.txt \
    && PIP_CONFIG_FILE=/run/secrets/pipconf pip install -q "setuptools>=68" -r /tmp/req/runtime.txt \
    && mkdir -p /app/service && cp /tmp/req/pyproject.toml /app/ && touch /app/README.md /app/service/__init__.py \
    && pip install -q --no-deps --no-build-isolation --no-index -e /app && rm -rf /app

FROM venv AS venv-runtime
# The web app's interface languages (service/http/translations/ and English): Babel's CLDR data is kept for
# these alone (35 MB for every locale; tests/test_deploy_files.py checks the list against the translations).
ARG UI_LOCALES="en id ms"
# Slimmer: no debug sections in the wheels' shared objects that have them (CTranslate2's extension: 68 MB, 1.7 MB
# without; the last stage's imports check that every one still loads; --strip-unneeded is not used: it breaks
# the libraries auditwheel patched, "ELF load command address/offset not page-aligned"); no test suites of the
# packages (scipy's and numpy's: 27 MB) and no C/Cython headers, sources or type stubs (6 MB); none of what only
# the command lines of transformers and huggingface_hub use (typer, rich, pygments) or Xet downloads need
# (hf_xet: 11 MB; models are downloaded with the full image); no pip or setuptools; no bytecode (the last stage
# compiles what the service imports); Babel's locale data for the interface languages only; of scipy, whose
# sparse matrices alone the service uses, not the leaf packages stats, signal and io (32 MB; nothing else in the
# image imports them). binutils (strip) stays in this build stage.
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends binutils \
    && for f in $(find /opt/venv -name '*.so' -type f); do \
         if readelf -S "$f" | grep -q '\.debug_info'; then strip --strip-debug "$f"; fi; done \
    && python3 -m pip uninstall -q -y pip setuptools hf-xet typer rich pygments \
    && find /opt/venv/lib/python3*/site-packages -mindepth 2 -type d -name tests -prune -exec rm -rf {} + \
    && find /opt/venv/lib/python3*/site-packages -type f \( -name '*.pyi' -o -name '*.pxd' -o -name '*.pyx' \
         -o -name '*.h' -o -name '*.c' \) -delete \
    && find /opt/venv/lib/python3*/site-packages/babel/locale-data -name '*.dat' \
         -not -regex ".*/\(root\|$(echo $UI_LOCALES | sed 's/ /\\|/g')\)\(_[A-Za-z0-9_]*\)?\.dat" -delete \
    && rm -rf /opt/venv/lib/python3*/site-packages/scipy/stats /opt/venv/lib/python3*/site-packages/scipy/signal \
         /opt/venv/lib/python3*/site-packages/scipy/io \
    && find /opt/venv -name __pycache__ -prune -exec rm -rf {} +

FROM venv AS venv-full
# torch first and pinned: an open `torch` requirement makes pip fetch the multi-GB CUDA build on Linux.
ARG TORCH_SPEC=torch==2.13.0
RUN --mount=type=secret,id=pipconf,target=/run/secrets/pipconf \
    --mount=type=secret,id=pipca,target=/run/secrets/pipca \
    python3 /tmp/req/requirements.py full > /tmp/req/full.txt \
    && PIP_CONFIG_FILE=/run/secrets/pipconf pip install -q "$TORCH_SPEC" \
    && PIP_CONFIG_FILE=/run/secrets/pipconf pip install -q -r /tmp/req/full.txt

# ---- the code: root's, read-only for the service ---------------------------------------------------------------
FROM scratch AS code
COPY pyproject.toml README.md /app/
COPY service /app/service
COPY prompts /app/prompts
COPY glossary /app/glossary
COPY examples /app/examples

FROM os AS common
ENV PATH=/opt/venv/bin:$PATH PYTHONPATH=/app PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 HOME=/data \
    ASEAN_MT_MODELS_DIR=/models ASEAN_MT_DATA_DIR=/data ASEAN_MT_SECRET_KEY_FILE=/data/secret_key \
    HF_HOME=/models/.hf-cache TRANSFORMERS_NO_ADVISORY_WARNINGS=1
WORKDIR /app
# /models: converted models; /data: the embedded job store and broker (SQLite) and the secret key.
VOLUME /models /data
EXPOSE 8000
# Ready only once the engines are loaded (models can take a minute); /healthz would only say "alive".
HEALTHCHECK --interval=30s --timeout=5s --start-period=180s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4).status != 200)"]
# Exec form, and `serve` replaces itself with gunicorn: SIGTERM reaches gunicorn, which drains requests.
ENTRYPOINT ["asean-mt"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]

FROM common AS full
COPY --from=venv-full /opt/venv /opt/venv
COPY --from=code /app /app
RUN python3 -m compileall -q /app/service && chmod -R a-w,a+rX /app
USER 10001

FROM common AS runtime
# Modules a serving process imports (bytecode compiled at build time in the runtime image).
ARG WARM_IMPORTS="service.cli service.http service.jobs.worker service.serving.gunicorn_conf service.engines.ctranslate2 \
service.engines.hf service.engines.apertium service.summaries.abstractive service.evaluation ctranslate2 \
service.text.detect service.documents.road service.terminology.formats service.summaries.extractive scipy.sparse numpy \
transformers.models.auto.tokenization_auto transformers.models.marian.tokenization_marian \
transformers.models.nllb.tokenization_nllb transformers.models.m2m_100.tokenization_m2m_100 \
transformers.models.mbart50.tokenization_mbart50 transformers.models.t5.tokenization_t5 \
transformers.tokenization_utils_tokenizers transformers.tokenization_utils_sentencepiece transformers.convert_slow_tokenizer gunicorn.app.wsgiapp \
gunicorn.workers.gthread gunicorn.glogging celery.bin.celery celery.worker celery.concurrency.thread \
kombu.transport.redis kombu.transport.sqlalchemy sqlalchemy.dialects.postgresql.psycopg \
sqlalchemy.dialects.sqlite.pysqlite limits.storage.redis"
COPY --from=venv-runtime /opt/venv /opt/venv
COPY --from=code /app /app
# Bytecode for what the service imports (a fraction of the venv's), written now: the code is read-only later.
RUN python3 -m compileall -q /app/service && chmod -R a-w,a+rX /app \
    && PYTHONDONTWRITEBYTECODE= python3 -c "import importlib; [importlib.import_module(m) for m in '$WARM_IMPORTS'.split()]"
USER 10001
