# The Silta image: one binary (every service; the subcommand picks one) and
# the browser apps. Build: docker build -t silta . (no Docker engine runs on
# the development machines, so this file is kept minimal and is not built
# in CI; deploy/kubernetes refers to the image it makes).

FROM docker.io/library/rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p silta \
 && install -D -m 0755 target/release/silta /out/usr/local/bin/silta \
 && mkdir -p /out/usr/share/silta \
 && cp -r web /out/usr/share/silta/web \
 && rm -rf /out/usr/share/silta/web/node_modules

# glibc and libgcc only (aws-lc and SQLite are linked in); no shell.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/ /
ENV SILTA_WEB__ROOT=/usr/share/silta/web
USER 65532:65532
EXPOSE 7100/tcp 7200/tcp 7300-7301/udp 7301/tcp
ENTRYPOINT ["/usr/local/bin/silta"]
CMD ["--help"]
