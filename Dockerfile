# Production image: Python app + front-end packages from npm. Used by docker-compose.yml.
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 GUICHET_ENV=production
RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm gettext espeak-ng \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund
COPY . .
RUN pip install --no-cache-dir . \
    && python manage.py compilemessages --ignore=node_modules \
    && SECRET_KEY=build python manage.py collectstatic --noinput
RUN useradd --system --home /app guichet && mkdir -p /app/var && chown -R guichet /app/var
USER guichet
EXPOSE 8000
# bin/serve: migrations, then uvicorn (believing X-Forwarded-* only from TRUSTED_PROXIES). The
# static files were collected above; the application refuses to start without their manifest.
ENV HOST=0.0.0.0 PORT=8000 SERVE_COLLECTSTATIC=0
CMD ["bin/serve"]
