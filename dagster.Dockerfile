# The Dagster UI and daemon (`dagster dev` on workspace.yaml), as `make up` runs them, on port 3000.
# Only the base and the pipeline's extra are installed (docs/containers.md). The install is editable so that
# the SQL models (sql/) and QuickSight definitions (quicksight/) are found beside the code, as in the checkout.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 GITGOODS_ENV=aws GITGOODS_HOME=/data DAGSTER_HOME=/dagster
WORKDIR /app
COPY pyproject.toml README.md workspace.yaml ./
COPY gitgoods ./gitgoods
COPY pipelines ./pipelines
COPY sql ./sql
COPY quicksight ./quicksight
RUN pip install --no-cache-dir -e './[pipelines]' \
    && useradd --system --uid 10001 app \
    && mkdir /data /dagster && touch /dagster/dagster.yaml && chown -R 10001 /data /dagster
USER 10001
EXPOSE 3000
HEALTHCHECK --interval=15s --timeout=3s --start-period=120s CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:3000/server_info')"]
CMD ["dagster", "dev", "-w", "workspace.yaml", "-h", "0.0.0.0", "-p", "3000"]
