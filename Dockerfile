# Build: docker build -t taxiid .
# Run:   docker run -p 8080:8080 -v taxiid-data:/data --stop-timeout 20 taxiid
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
