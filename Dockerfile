# syntax=docker/dockerfile:1
# The service image: worker, webhook, codec server, simulator and the development identity provider all run from it,
# each with its own command, as the production build's JavaScript (`npm run build`: dist/) on plain node; no
# TypeScript and no tsx in the image.

FROM node:20-bookworm-slim AS dependencies
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY activities ./activities
COPY campaigns ./campaigns
COPY client ./client
COPY codec ./codec
COPY common ./common
COPY config ./config
COPY d1 ./d1
COPY identity ./identity
COPY orders ./orders
COPY rules ./rules
COPY scripts ./scripts
COPY simulator ./simulator
COPY temporal ./temporal
COPY webhook ./webhook
COPY workers ./workers
COPY workflows ./workflows
# Every process compiled to dist/, and the workflow bundle built once (dist/workflow-bundle.js); the image holds no
# workflow sources, so workers use the bundle as it is.
RUN npm run build

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
# openssl makes the development codec certificate (scripts/dev-credentials.ts, the dev-identity profile).
RUN apt-get update && apt-get install -y --no-install-recommends openssl && rm -rf /var/lib/apt/lists/*
COPY --from=dependencies /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# package.json marks the package root (projectRoot) and makes dist/'s .js ES modules; the processes read the program
# catalog from config/, the CLI (`npx card-orders`, bin/) takes the example orders.
COPY package.json ./
COPY config/program-catalog.json ./config/program-catalog.json
COPY bin ./bin
COPY examples ./examples
RUN mkdir -p /app/.data/keys /app/.data/dev && chown -R node:node /app/.data
USER node
CMD ["node", "dist/workers/main.js"]
