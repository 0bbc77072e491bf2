# syntax=docker/dockerfile:1
# The service image: worker, webhook, codec server, simulator and the development identity provider all run from it,
# each with its own command.

FROM node:20-bookworm-slim AS dependencies
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY common ./common
COPY config ./config
COPY codec ./codec
COPY rules ./rules
COPY workflows ./workflows
COPY workers ./workers
COPY scripts ./scripts
COPY activities ./activities
COPY campaigns ./campaigns
COPY temporal ./temporal
COPY d1 ./d1
COPY orders ./orders
# The workflow bundle is built once here; workers use it (and would rebuild only if the sources differed).
RUN npm run build

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
# openssl makes the development codec certificate (scripts/dev-credentials.ts, the dev-identity profile).
RUN apt-get update && apt-get install -y --no-install-recommends openssl && rm -rf /var/lib/apt/lists/*
COPY --from=dependencies /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json tsconfig.json ./
COPY common ./common
COPY codec ./codec
COPY config ./config
COPY d1 ./d1
COPY orders ./orders
COPY rules ./rules
COPY workflows ./workflows
COPY activities ./activities
COPY campaigns ./campaigns
COPY temporal ./temporal
COPY workers ./workers
COPY client ./client
COPY webhook ./webhook
COPY simulator ./simulator
COPY identity ./identity
COPY scripts/keys.ts scripts/dev-credentials.ts ./scripts/
COPY scripts/stack/tls.ts ./scripts/stack/tls.ts
COPY bin ./bin
COPY examples ./examples
RUN mkdir -p /app/.data/keys /app/.data/dev && chown -R node:node /app/.data
USER node
CMD ["node", "--import", "tsx", "workers/main.ts"]
