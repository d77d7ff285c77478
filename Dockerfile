# The taxiid server as a static binary on a minimal image, run as a user
# without privileges (65532, "nonroot").
#
# Build (the arguments stamp what `taxiid version` and taxiid_build_info
# report; without them the version is "devel"):
#
#   docker build -t taxiid \
#     --build-arg VERSION="$(git describe --tags --always --dirty)" \
#     --build-arg COMMIT="$(git rev-parse HEAD)" \
#     --build-arg BUILD_DATE="$(date -u +%Y-%m-%dT%H:%M:%SZ)" .
#
# Run, serving HTTPS with a certificate and key mounted read-only (readable
# by the image's user, uid 65532; replaced files are reloaded):
#   docker run -p 8080:8080 -v taxiid-data:/data -v /etc/taxiid/tls:/tls:ro \
#     -e TAXIID_TLS_CERT=/tls/cert.pem -e TAXIID_TLS_KEY=/tls/key.pem --stop-timeout 20 taxiid
# or, behind a reverse proxy that terminates TLS, plain HTTP:
#   docker run -p 8080:8080 -v taxiid-data:/data -e TAXIID_INSECURE_HTTP=true --stop-timeout 20 taxiid
# With neither the container stops at once: off loopback, taxiid serves
# plain HTTP only when TAXIID_INSECURE_HTTP says so.
#
# On SIGTERM taxiid waits up to TAXIID_SHUTDOWN_TIMEOUT (15 s) for requests
# in flight; docker stop kills after 10 s unless --stop-timeout says more.
# Without TAXIID_MAX_MEMORY the server aims to stay under half the
# container's memory limit (docker run --memory).
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=devel
ARG COMMIT=
ARG BUILD_DATE=
# .ci/run runs this very command, so that CI builds what the image holds.
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags="-s -w -X main.version=${VERSION} -X main.commit=${COMMIT} -X main.buildDate=${BUILD_DATE}" -o bin/taxiid ./cmd/taxiid
# The runtime image has no shell to make directories with: the store's
# directory is made here, owned by the user the server runs as, so that a
# new volume mounted on it is writable.
RUN mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=devel
ARG COMMIT=
ARG SOURCE=https://github.com/taxiid/taxiid
LABEL org.opencontainers.image.title="taxiid" \
      org.opencontainers.image.description="STIX/TAXII 2.1 threat-intelligence sharing server" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}" \
      org.opencontainers.image.source="${SOURCE}"
COPY --from=build /src/bin/taxiid /taxiid
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
ENV TAXIID_LISTEN=0.0.0.0:8080 TAXIID_DATA=/data
VOLUME /data
EXPOSE 8080
# taxiid healthcheck reads the same flags and environment as serve and
# asks /healthz on the listen address: no shell, no curl.
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 CMD ["/taxiid", "healthcheck"]
ENTRYPOINT ["/taxiid"]
CMD ["serve"]
