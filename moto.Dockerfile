# The moto server (KMS, S3, Glue, Cognito, QuickSight with the local asset APIs), as `make up` runs it, on port 4566.
# Local stacks only. Only the base and the emulators' extra are installed (docs/containers.md).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 GITGOODS_ENV=local GITGOODS_HOME=/data
WORKDIR /app
COPY pyproject.toml README.md ./
COPY gitgoods ./gitgoods
RUN pip install --no-cache-dir './[local]' \
    && useradd --system --uid 10001 app \
    && mkdir /data && chown 10001 /data
USER 10001
EXPOSE 4566
HEALTHCHECK --interval=10s --timeout=3s CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:4566/moto-api/data.json')"]
# KMS keys in /data/state/moto, the local QuickSight's store and SPICE snapshots in /data/state/quicksight.
CMD ["python", "-m", "gitgoods.local.moto_server", "--host", "0.0.0.0", "--port", "4566", "--state", "/data/state/moto"]
