# Builds the OGSMS API service. The image runs `ogsms serve` against DATABASE_URL.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY api ./api
COPY migrations ./migrations
COPY iati ./iati
COPY tests ./tests
RUN cargo build --release --locked --bin ogsms

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin ogsms \
 && mkdir -p /var/lib/ogsms \
 && chown ogsms:ogsms /var/lib/ogsms \
 && chmod 0700 /var/lib/ogsms
COPY --from=build /src/target/release/ogsms /usr/local/bin/ogsms
USER ogsms
# The data directory (the token signing key `jwt-secret`; the private cluster when no
# DATABASE_URL is given) belongs to the service's user; a new named volume mounted here
# takes its owner. Nothing else is written: the root filesystem may be read-only.
ENV OGSMS_DATA_DIR=/var/lib/ogsms
VOLUME /var/lib/ogsms
ENV OGSMS_BIND=0.0.0.0:8080
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --retries=3 CMD curl -fsS http://127.0.0.1:8080/livez || exit 1
ENTRYPOINT ["ogsms"]
CMD ["serve"]
