# The catalog service, as `make up` runs it: waitress (gitgoods.local.serve; docs/serving.md) on port 5001,
# one worker (its read cache is kept fresh by stock notices that reach one process).
# Only the base and the storefront's extra are installed (docs/containers.md): no Dagster, DuckDB, pyarrow or moto.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 GITGOODS_ENV=aws GITGOODS_HOME=/data
WORKDIR /app
COPY pyproject.toml README.md ./
COPY gitgoods ./gitgoods
COPY storefront ./storefront
RUN pip install --no-cache-dir './[storefront]' \
    && useradd --system --uid 10001 app \
    && mkdir /data && chown 10001 /data
USER 10001
EXPOSE 5001
HEALTHCHECK --interval=10s --timeout=2s CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5001/health')"]
# waitress reads whole requests before its threads see them: slow clients hold no thread.
CMD ["python", "-m", "gitgoods.local.serve", "--bind", "0.0.0.0:5001", "--workers", "1", "storefront.catalog.app:create_app()"]
