# Multi-stage image of the gateway on the Node 22 LTS line: native modules are built in the first stage for the same Node
# major as the runtime stage (their ABI must match), and the runtime stage runs as a non-root user.
FROM node:22-bookworm AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY tsconfig.json ./
COPY gateway ./gateway
COPY devices ./devices
COPY dashboard ./dashboard
# The dashboard bundle is built into the image; the runtime serves dist/dashboard and never builds.
RUN node --import tsx dashboard/build.ts

FROM node:22-bookworm-slim
ENV NODE_ENV=production DATA_DIR=/data MQTT_PORT=1883 HTTP_PORT=8080 TZ=Asia/Shanghai
WORKDIR /app
COPY --from=build /app /app
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 1883 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s CMD node -e "fetch('http://127.0.0.1:'+(process.env.HTTP_PORT||8080)+'/healthz').then(r=>process.exit(r.status===200?0:1),()=>process.exit(1))"
# --min-semi-space-size: see deploy/systemd/care-gateway.service.
CMD ["node_modules/.bin/tsx", "--min-semi-space-size=16", "gateway/main.ts"]
