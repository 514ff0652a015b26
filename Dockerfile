# Multi-stage build: a static binary on a minimal base, run as non-root.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# docker build --build-arg VERSION=$(git describe --tags --always) --build-arg COMMIT=$(git rev-parse HEAD) .
ARG VERSION=devel
ARG COMMIT=unknown
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w -X github.com/sluice-cdc/sluice/internal/buildinfo.version=${VERSION} -X github.com/sluice-cdc/sluice/internal/buildinfo.commit=${COMMIT}" -o /out/sluice ./cmd/sluice

RUN mkdir -p /out/state

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/sluice /usr/local/bin/sluice
COPY --from=build --chown=65532:65532 /out/state /var/lib/sluice
USER nonroot:nonroot
# Inside the container the admin endpoints listen on every interface, so
# probes and Prometheus reach them (outside, the default is loopback);
# local state (a cache by default: snapshot state lives in the source
# database) goes to a volume.
ENV SLUICE_HTTP_LISTEN=0.0.0.0:9187 SLUICE_STATE_DIR=/var/lib/sluice
VOLUME /var/lib/sluice
EXPOSE 9187
ENTRYPOINT ["/usr/local/bin/sluice"]
CMD ["run", "--config", "/etc/sluice/sluice.yaml"]
