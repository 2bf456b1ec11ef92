# Grapevine node image (SPEC §5). Two stages: `build` compiles the TypeScript with the dev dependencies;
# the runtime stage holds only production dependencies, dist/, bin/ and the web console's ui/, and runs as the base image's
# unprivileged `node` user (uid 1000) with its data in the /data volume.
#
# Install scripts stay off (--ignore-scripts), as package.json's allowScripts says: classic-level and
# msgpackr-extract ship prebuilt binaries that load without them, and the root package's `prepare`
# (a build) must not run in the runtime stage, which has no TypeScript.
#
#   docker build -t grapevine .
#   docker run --rm -p 127.0.0.1:7001:7001 -v grapevine-data:/data grapevine
#   docker run --rm grapevine --help          # any grapevine command: the entrypoint is the CLI

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY bin ./bin
COPY ui ./ui
COPY --from=build /app/dist ./dist
# `grapevine` on the PATH, for `docker exec <container> grapevine status`. /data belongs to `node`, so
# a fresh named volume (initialised from the image's directory) is writable by it.
RUN ln -s /app/bin/grapevine.js /usr/local/bin/grapevine && mkdir -p /data && chown node:node /data

# Every node option is a GRAPEVINE_* variable (SPEC §1). Inside a container the node must listen on
# all interfaces; GRAPEVINE_ADVERTISE (the name other nodes reach it by) and GRAPEVINE_SEEDS are the
# deployment's to set.
ENV GRAPEVINE_LISTEN=0.0.0.0:7001 \
    GRAPEVINE_DATA_DIR=/data
VOLUME ["/data"]
EXPOSE 7001
USER node

# The node is PID 1 and installs its own SIGTERM/SIGINT handlers (src/cli/start.ts): the first signal
# stops it cleanly (HTTP server closed, LevelDB flushed), so `docker stop` returns within a second or
# two instead of waiting out the grace period. No shell in between to swallow the signal.
STOPSIGNAL SIGTERM
# Healthy means serving clients: /ready, not the liveness probe /health (README, HTTP API). No curl in
# the slim image; node's fetch does it. The port follows GRAPEVINE_LISTEN.
HEALTHCHECK --interval=5s --timeout=3s --start-period=15s --retries=3 \
  CMD ["node", "-e", "const p=(process.env.GRAPEVINE_LISTEN||'').split(':').pop()||'7001';fetch('http://127.0.0.1:'+p+'/ready',{signal:AbortSignal.timeout(2500)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "/app/bin/grapevine.js"]
CMD ["start"]
