# The backbone's image: one image, the command picks the role (worker, gateway, api, migrate...).
# Every setting is an environment variable STREAMS_<NAME> (`streams settings` lists them).
FROM python:3.11-slim-bookworm
RUN useradd --create-home --uid 10001 streams
WORKDIR /app
COPY pyproject.toml README.md ./
COPY streams ./streams
COPY loadtest ./loadtest
COPY schemas ./schemas
# Installed in place: the code reads its migrations and Avro schemas from schemas/ beside the
# package, so the source tree is the installation.
RUN pip install --no-cache-dir -e . \
    && mkdir -p /var/lib/streams && chown streams:streams /var/lib/streams
USER 10001
# Containers listen on every interface; which ports are published is the orchestrator's choice.
ENV STREAMS_WEB_HOST=0.0.0.0 \
    STREAMS_GATEWAY_HOST=0.0.0.0 \
    STREAMS_API_HOST=0.0.0.0 \
    STREAMS_DATA_DIR=/var/lib/streams/faust \
    STREAMS_LOCAL_DIR=/var/lib/streams/local \
    PYTHONUNBUFFERED=1
VOLUME /var/lib/streams
EXPOSE 6066 8080 8088
ENTRYPOINT ["streams"]
CMD ["--help"]
