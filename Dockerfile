# Images for compose.yaml: `docker compose build` makes both targets.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY authsvc ./authsvc
COPY gateway ./gateway
COPY upstream-demo ./upstream-demo
RUN CGO_ENABLED=0 go build -trimpath -o /out/gateway ./gateway \
 && CGO_ENABLED=0 go build -trimpath -o /out/upstream-demo ./upstream-demo

FROM gcr.io/distroless/static-debian12:nonroot AS gateway
WORKDIR /app
COPY --from=build /out/gateway /app/gateway
COPY configs/gateway.yaml /app/configs/gateway.yaml
EXPOSE 8000
ENTRYPOINT ["/app/gateway"]

FROM gcr.io/distroless/static-debian12:nonroot AS upstream-demo
COPY --from=build /out/upstream-demo /upstream-demo
EXPOSE 8081
ENTRYPOINT ["/upstream-demo"]
