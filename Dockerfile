# Build: docker build -t taxiid .
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
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /taxiid ./cmd/taxiid

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /taxiid /taxiid
VOLUME /data
EXPOSE 8080
ENV TAXIID_LISTEN=0.0.0.0:8080 TAXIID_DATA=/data
ENTRYPOINT ["/taxiid"]
CMD ["serve"]
