# zulip-presence-mock as a container: a static binary on an empty base image.
#
#   docker build -t zulip-presence-mock .
#   docker run --rm -p 9991:9991 zulip-presence-mock
#
# The build stage needs a Rust toolchain image; offline CI passes its own with
# --build-arg RUST_IMAGE=... (see tests/docker/run).
ARG RUST_IMAGE=rust:1-bookworm

FROM ${RUST_IMAGE} AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src src
COPY fixtures fixtures
# The manifest names the benchmarks, so cargo needs their files to read it.
COPY benches benches
# A fully static binary (glibc's static build), so that the runtime stage needs nothing.
RUN set -eu; \
    target="$(rustc -vV | sed -n 's/^host: //p')"; \
    RUSTFLAGS="-C target-feature=+crt-static" \
        cargo build --release --locked --target "$target"; \
    cp "target/$target/release/zulip-presence-mock" /zulip-presence-mock; \
    /zulip-presence-mock --version

FROM scratch
COPY --from=build /zulip-presence-mock /zulip-presence-mock
# The default fixture, at the path ZULIP_MOCK_FIXTURES names: mount your own fixture there
# (-v ./my-fixture.json:/fixtures/fixture.json:ro), or point ZULIP_MOCK_FIXTURES elsewhere.
COPY fixtures/default.json /fixtures/fixture.json
# Address and port to listen on: every interface inside the container.
ENV ZULIP_MOCK_BIND=0.0.0.0:9991
# The fixture file to serve.
ENV ZULIP_MOCK_FIXTURES=/fixtures/fixture.json
# The clock: system, frozen:<time> (e.g. frozen:2026-01-01T00:00:00Z) or offset:<relative time>.
ENV ZULIP_MOCK_CLOCK=system
# Log format on standard output: text or json.
ENV ZULIP_MOCK_LOG_FORMAT=text
# Whether GET /realm/presence lists unsupported parameters (listed, as documented) or leaves
# them out (omitted, as Zulip's source does for this view).
ENV ZULIP_MOCK_REALM_PRESENCE_IGNORED_PARAMETERS=listed
# The Zulip API feature level to be (unset: the fixture's), e.g. 185 for Zulip 7.0.
# ZULIP_MOCK_FEATURE_LEVEL=185
# How many requests the admin API's journal keeps (the oldest go first; 0 records none).
ENV ZULIP_MOCK_JOURNAL_SIZE=10000
# The admin API (/__admin) is open by default, for tests. Set ZULIP_MOCK_ADMIN_TOKEN to require
# "Authorization: Bearer <token>" on it, or ZULIP_MOCK_NO_ADMIN=true to remove it (health stays);
# never publish this port beyond a test network. ZULIP_MOCK_WATCH=true reloads a mounted
# fixture when it changes; ZULIP_MOCK_RATE_LIMIT=200/60 rate limits as Zulip does.
# Log filter (tracing's RUST_LOG syntax).
ENV RUST_LOG=zulip_presence_mock=info,tower_http=info
# nobody:nogroup; the server needs no privileges.
USER 65534:65534
EXPOSE 9991
HEALTHCHECK --interval=2s --timeout=2s --start-period=5s --retries=3 \
    CMD ["/zulip-presence-mock", "healthcheck"]
ENTRYPOINT ["/zulip-presence-mock"]
