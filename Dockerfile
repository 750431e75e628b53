# Feedkeeper's production image: gunicorn serves Django (static files through whitenoise); the same image runs the
# Celery worker and beat (see docker-compose.yml). Configuration comes from the environment (.env.example).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=config.settings.production

RUN groupadd --system --gid 10001 feedkeeper \
    && useradd --system --uid 10001 --gid feedkeeper --no-create-home --home-dir /app --shell /usr/sbin/nologin feedkeeper

WORKDIR /app

COPY requirements.txt ./
RUN pip install -r requirements.txt

COPY . .

# Static files are collected at build time. Production settings refuse to load without their secrets, so this step
# gets throw-away values that exist only for this command (nothing is decrypted or signed here).
RUN SECRET_KEY=collectstatic-only \
    FIELD_ENCRYPTION_KEYS=collectstatic-only \
    ALLOWED_HOSTS=localhost \
    python manage.py collectstatic --noinput --verbosity 0

USER feedkeeper

EXPOSE 8000

CMD ["gunicorn", "config.wsgi", "--bind", "0.0.0.0:8000", "--workers", "2", "--threads", "4", "--access-logfile", "-", "--graceful-timeout", "5"]
