# Front-end libraries from npm (package.json pins exact versions; no lock file is kept).
FROM node:20-slim AS frontend
WORKDIR /app
COPY package.json package.json
RUN npm install --no-package-lock --no-audit --no-fund --loglevel=error

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    STATIC_ROOT=/app/staticfiles

WORKDIR /app
COPY requirements/base.txt requirements/base.txt
RUN pip install -r requirements/base.txt
COPY . .
COPY --from=frontend /app/node_modules/lightweight-charts/dist node_modules/lightweight-charts/dist
# collectstatic needs importable settings, not a running database or real secrets.
RUN SECRET_KEY=build-only-secret-key-not-used-at-runtime-000000 \
    DATABASE_URL=postgres://build/none REDIS_URL=redis://build:6379/0 \
    python manage.py collectstatic --noinput \
 && useradd --create-home --uid 1000 standx
USER standx
EXPOSE 8000
CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", "standx_web.asgi:application"]
