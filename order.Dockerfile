# The order service, as `make up` runs it: waitress (gitgoods.local.serve; docs/serving.md) on port 5002.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 GITGOODS_ENV=aws
WORKDIR /app
COPY pyproject.toml README.md ./
COPY gitgoods ./gitgoods
COPY storefront ./storefront
COPY pipelines ./pipelines
RUN pip install --no-cache-dir . && useradd --system --uid 10001 app
USER app
EXPOSE 5002
HEALTHCHECK --interval=10s --timeout=2s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5002/health')"
# waitress reads whole requests before its threads see them: slow clients hold no thread.
CMD ["python", "-m", "gitgoods.local.serve", "--bind", "0.0.0.0:5002", "storefront.orders.app:create_app()"]
