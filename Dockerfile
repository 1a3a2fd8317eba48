# akko-audit image: a static-enough release binary on distroless.
#   docker build -t registry.akko.local/akko-audit:0.1.0 .
# Build context rules are in .dockerignore (no target/, no out/ with evidence, no .git).

# ---- build ------------------------------------------------------------------------------------
# The toolchain the crate declares (rust-version = 1.95); bookworm = the runtime's Debian 12, so
# the binary links against the same glibc.
FROM rust:1.95-bookworm AS build
WORKDIR /src

# Dependency layer: compile every dependency against stub sources, so editing src/ rebuilds only
# the crate (polars alone is most of a ~20 min cold build on 2 cores). --locked: the image gets
# exactly the versions of Cargo.lock.
COPY Cargo.toml Cargo.lock ./
RUN mkdir src \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && cargo build --release --locked --bin akko-audit \
    && rm -rf src

# Compiled into the binary: the control catalog and the PDF fonts (include_str!/include_bytes!)
# and the counting rules the PDF prints as its methodology appendix.
COPY report-templates ./report-templates
COPY docs/counting-rules.md ./docs/counting-rules.md
COPY src ./src
# COPY keeps the context's mtimes, which may be older than the stub build's outputs: touch so
# cargo sees the real sources as changed and does not ship the stub.
RUN touch src/main.rs src/lib.rs \
    && cargo build --release --locked --bin akko-audit \
    && install -D -m 0755 target/release/akko-audit /out/akko-audit

# ---- runtime ----------------------------------------------------------------------------------
# distroless/cc: glibc and libgcc (all a Rust binary with rustls needs), CA certificates, no shell,
# no package manager. The ":nonroot" variant's user is 65532, the uid the CronJobs run as.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/akko-audit /usr/local/bin/akko-audit
# Nothing else is copied: the binary reads no file of the repository at runtime; the control
# catalog, the fonts and the counting rules are compiled in.
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/akko-audit"]
CMD ["--help"]
