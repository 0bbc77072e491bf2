/**
 * The environment variables this service reads: one zod schema, assembled from its sections (./sections/), with
 * the rules that span them. The single place to read the settings from, for `loadConfig` and for documentation.
 *
 * @module
 */
import { z } from 'zod';
import { runtimeEnv } from './sections/runtime.js';
import { campaignEnv } from './sections/campaigns.js';
import { d1Env } from './sections/d1.js';
import { orderEnv } from './sections/orders.js';
import { workerEnv } from './sections/worker.js';
import { webhookEnv } from './sections/webhook.js';
import { codecServerEnv } from './sections/codec-server.js';

/** The environment variables this service reads, by name, with their defaults. */
export const envSchema = z
  .object({
    ...runtimeEnv,
    ...campaignEnv,
    ...d1Env,
    ...orderEnv,
    ...workerEnv,
    ...webhookEnv,
    ...codecServerEnv,
  })
  .superRefine((env, ctx) => {
    // A certificate without its key (or the reverse) is a half-configured TLS setup: name the missing half.
    for (const [cert, key] of [
      ['TEMPORAL_TLS_CERT_FILE', 'TEMPORAL_TLS_KEY_FILE'],
      ['D1_TLS_CERT_FILE', 'D1_TLS_KEY_FILE'],
      ['WEBHOOK_TLS_CERT_FILE', 'WEBHOOK_TLS_KEY_FILE'],
      ['CODEC_SERVER_TLS_CERT_FILE', 'CODEC_SERVER_TLS_KEY_FILE'],
    ] as const) {
      if (Boolean(env[cert]) !== Boolean(env[key])) {
        ctx.addIssue({ code: 'custom', path: [env[cert] ? key : cert], message: `TLS needs both ${cert} and ${key}` });
      }
    }
    if (env.CODEC_SERVER_OIDC_ISSUER) {
      for (const key of ['CODEC_SERVER_OIDC_AUDIENCE', 'CODEC_SERVER_OIDC_NAMESPACES'] as const) {
        if (!env[key])
          ctx.addIssue({ code: 'custom', path: [key], message: 'is required with CODEC_SERVER_OIDC_ISSUER' });
      }
    } else {
      // Half an OIDC setup is a mistake to name, not to ignore.
      for (const key of [
        'CODEC_SERVER_OIDC_AUDIENCE',
        'CODEC_SERVER_OIDC_NAMESPACES',
        'CODEC_SERVER_OIDC_JWKS_URL',
      ] as const) {
        if (env[key]) ctx.addIssue({ code: 'custom', path: [key], message: 'needs CODEC_SERVER_OIDC_ISSUER' });
      }
    }
    if (env.CAMPAIGN_STORE === 'postgres' && !env.CAMPAIGN_STORE_URL) {
      ctx.addIssue({
        code: 'custom',
        path: ['CAMPAIGN_STORE_URL'],
        message: 'is required with CAMPAIGN_STORE=postgres',
      });
    }
    // The SDK refuses a cache smaller than the tasks it runs at once.
    if (env.WORKER_MAX_CACHED_WORKFLOWS < env.WORKER_MAX_CONCURRENT_WORKFLOW_TASKS) {
      ctx.addIssue({
        code: 'custom',
        path: ['WORKER_MAX_CACHED_WORKFLOWS'],
        message: 'must be at least WORKER_MAX_CONCURRENT_WORKFLOW_TASKS',
      });
    }
  });
