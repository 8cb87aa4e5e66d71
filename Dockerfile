# syntax=docker/dockerfile:1.7
# One multi-stage image recipe for every app: docker build --build-arg APP=command-api .
ARG NODE_IMAGE=node:20.19-bookworm-slim

FROM ${NODE_IMAGE} AS base
ENV PNPM_HOME=/pnpm PATH=/pnpm:$PATH CI=true
RUN npm install -g pnpm@10.34.9 --no-audit --no-fund

FROM base AS build
WORKDIR /repo
# Dependencies first so that source changes reuse the cached store.
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml .npmrc ./
RUN pnpm fetch
COPY . .
RUN pnpm install --frozen-lockfile --offline
ARG APP
RUN test -n "$APP" || (echo "build with --build-arg APP=<app under apps/>" >&2; exit 1)
RUN pnpm exec turbo run build --filter=@causeway/${APP}...
# A self-contained directory: the app's dist, production node_modules, workspace packages' dist.
RUN pnpm deploy --filter=@causeway/${APP} --prod --legacy /out

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000
WORKDIR /app
COPY --from=build --chown=node:node /out ./
USER node
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=5 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+process.env.PORT+'/health/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/main.js"]
