# Multi-stage build: a static ddbsync binary on a distroless base, run as a
# non-root user.
#   docker build -t ddbsync .
#   docker run --rm -e DATABASE_URL=postgres://... ddbsync status
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/ddbsync ./cmd/ddbsync

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ddbsync /usr/local/bin/ddbsync
USER nonroot:nonroot
EXPOSE 9090
ENTRYPOINT ["/usr/local/bin/ddbsync"]
CMD ["--help"]
