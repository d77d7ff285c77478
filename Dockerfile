# Build: docker build -t taxiid .
# Run:   docker run -p 8080:8080 -v taxiid-data:/data taxiid
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
