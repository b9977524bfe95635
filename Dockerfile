# boxoffice: build with the Rust toolchain, run on a slim Debian as a non-root user.
#
#   docker build -t boxoffice .        (docker compose builds it for you)

FROM rust:1-bookworm AS build
WORKDIR /src
# Dependencies first, in their own layer: source edits do not rebuild them.
COPY Cargo.toml Cargo.lock ./
COPY bench/Cargo.toml bench/Cargo.toml
RUN mkdir -p src/bin bench/src \
    && echo 'fn main() {}' > src/main.rs \
    && echo 'fn main() {}' > src/bin/race.rs \
    && echo 'fn main() {}' > bench/src/main.rs \
    && touch src/lib.rs \
    && cargo build --release --locked -p boxoffice --bin boxoffice \
    && rm -rf src
COPY src src
COPY lua lua
COPY web web
RUN touch src/main.rs src/lib.rs && cargo build --release --locked -p boxoffice --bin boxoffice

FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin boxoffice
COPY --from=build /src/target/release/boxoffice /usr/local/bin/boxoffice
USER boxoffice
ENV BIND_ADDR=0.0.0.0:3000
EXPOSE 3000
HEALTHCHECK --interval=5s --timeout=3s --start-period=5s --retries=3 \
    CMD ["boxoffice", "healthcheck"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["boxoffice"]
