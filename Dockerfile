# The control plane image: web (daphne), worker and beat (celery), watcher (manage.py watch).
# One image, four commands; see docker-compose.yml and deploy/.
FROM python:3.11-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    DEBUG=0 \
    STATIC_ROOT=/app/staticfiles

WORKDIR /app

# Only the control plane's own dependencies: the sandbox, the inference server and the test
# tooling are not part of this image.
COPY requirements/controlplane.txt requirements/controlplane.txt
RUN pip install -r requirements/controlplane.txt

COPY manage.py ./
COPY controlplane ./controlplane
COPY deployments ./deployments
COPY static ./static

# collectstatic needs settings that import cleanly; these build-time keys are thrown away.
RUN SECRET_KEY=build-only CREDENTIALS_KEY=YnVpbGQtb25seS1rZXktMDEyMzQ1Njc4OWFiY2RlZg== \
    python manage.py collectstatic --noinput

RUN useradd --system --uid 10001 --home-dir /app controlplane
USER 10001

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"
CMD ["daphne", "-v", "0", "-b", "0.0.0.0", "-p", "8000", "controlplane.asgi:application"]
