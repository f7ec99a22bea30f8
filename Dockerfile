# civicbot's container image: docs/deploy.md. Built and run by tests/test_deploy.py where
# Docker is available. No secrets in any layer: they come from the environment at run time.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md constraints.txt ./
COPY bot bot
COPY adapters adapters
COPY conversations conversations
COPY storage storage
COPY surveys surveys
RUN python -m venv /opt/civicbot \
    && /opt/civicbot/bin/pip install --no-cache-dir --constraint constraints.txt .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin civicbot \
    && mkdir /data && chown civicbot:civicbot /data && chmod 0700 /data
COPY --from=build /opt/civicbot /opt/civicbot
COPY deploy/civicbot.container.toml /etc/civicbot/civicbot.toml
USER civicbot
WORKDIR /data
VOLUME /data
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
    CMD ["/opt/civicbot/bin/python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8081/readyz', timeout=4)"]
ENTRYPOINT ["/opt/civicbot/bin/civicbot"]
CMD ["run", "--config", "/etc/civicbot/civicbot.toml"]
