# syntax=docker/dockerfile:1

# --- build ------------------------------------------------------------------
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
# The workspace: the template at the root, the library in crates/.
COPY crates ./crates
COPY src ./src
# The manifest names the benchmarks, so cargo wants their files present.
COPY benches ./benches
# Cache mounts keep the registry and build artefacts between builds.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin server \
    && cp target/release/server /usr/local/bin/server

# --- runtime ----------------------------------------------------------------
FROM debian:bookworm-slim AS runtime
# reqwest verifies TLS with the platform's CA store. The package tracks the
# distribution's security updates, so its version is not pinned.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin app
COPY --from=build /usr/local/bin/server /usr/local/bin/server
USER 10001:10001
# Production mode: no development token server; providers come from the
# environment only (OAUTH2_<NAME>_TOKEN_URL, ..._CLIENT_ID, ..._CLIENT_SECRET_FILE).
ENV APP_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    LOG_FORMAT=json \
    RUST_LOG=info
EXPOSE 3000
# SIGTERM starts a graceful shutdown that drains requests and clears the token cache.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/server"]
