# Multi-stage build: compile in the Rust image, run in a slim Debian image as a non-root user.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin arshjul

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin arshjul \
    && mkdir -p /app/var \
    && chown arshjul:arshjul /app/var \
    && chmod 0700 /app/var
WORKDIR /app
COPY --from=build /src/target/release/arshjul /usr/local/bin/arshjul
COPY config /app/config
USER arshjul
# Inside a container the server must listen beyond loopback; the port is published explicitly.
ENV ARSHJUL__SERVER__HOST=0.0.0.0 \
    ARSHJUL__LOG__FORMAT=json
EXPOSE 8080
# SQLite lives here; mount a volume, or set ARSHJUL__DATABASE__URL=postgres://… instead.
VOLUME ["/app/var"]
ENTRYPOINT ["arshjul"]
CMD ["serve"]
