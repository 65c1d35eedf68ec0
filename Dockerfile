# Builds the OGSMS API service. The image runs `ogsms serve` against DATABASE_URL.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY api ./api
COPY migrations ./migrations
COPY tests ./tests
RUN cargo build --release --locked --bin ogsms

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin ogsms
COPY --from=build /src/target/release/ogsms /usr/local/bin/ogsms
USER ogsms
ENV OGSMS_BIND=0.0.0.0:8080
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --retries=3 CMD curl -fsS http://127.0.0.1:8080/livez || exit 1
ENTRYPOINT ["ogsms"]
CMD ["serve"]
