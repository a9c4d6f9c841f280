# One container: the release server and its dashboard assets, on SQLite under /app/data by default
# (set DATABASE_URL to a postgres:// URL to share state between several instances).
#
#   docker build -t track-futura .
#   docker run -p 8000:8000 -v tf-data:/app/data track-futura
#
# Layers, slowest-changing first: the pinned build tools (scripts/tools.sh, registries only) depend
# only on the files that pin them; the dependencies are compiled from cargo-chef's recipe (the
# manifests), so a source change rebuilds the project's own crates only.
# scripts/docker-recipe runs these same build and runtime steps outside Docker (CI has no engine).

FROM rust:1.95-bookworm AS tools
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY scripts/tools.sh scripts/tools.sh
COPY package.json package-lock.json Cargo.lock ./
RUN bash -c 'source scripts/tools.sh && ensure_build_tools'
RUN cargo install --locked cargo-chef --version 0.1.77

FROM tools AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM tools AS builder
COPY --from=planner /src/recipe.json recipe.json
# The same compiler flags for the dependencies as for the final build (erased component types).
COPY .cargo .cargo
RUN LEPTOS_OUTPUT_NAME=track-futura cargo chef cook --release -p server --recipe-path recipe.json && LEPTOS_OUTPUT_NAME=track-futura cargo chef cook --profile wasm-release -p frontend --target wasm32-unknown-unknown --recipe-path recipe.json
COPY . .
RUN scripts/build-site

FROM debian:bookworm-slim
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends ca-certificates curl >/dev/null && rm -rf /var/lib/apt/lists/* && useradd --system --create-home --home-dir /app track-futura
WORKDIR /app
COPY --from=builder /src/target/release/server /app/server
COPY --from=builder /src/target/site /app/site
ENV HOST=0.0.0.0 PORT=8000 LEPTOS_SITE_ROOT=/app/site DATA_DIR=/app/data LOG_DIR=/app/logs LOG_FORMAT=json
RUN mkdir -p /app/data /app/logs && chown -R track-futura /app
USER track-futura
VOLUME ["/app/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s CMD curl -fsS "http://127.0.0.1:${PORT}/api/health/" || exit 1
ENTRYPOINT ["/app/server"]
CMD ["serve"]
