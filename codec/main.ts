/**
 * `npm run codec-server`: the codec server for Temporal Web UI and the CLI, until SIGINT or SIGTERM. It refuses to
 * start (ERR_CONFIG_INVALID) without CODEC_SERVER_OIDC_ISSUER or CODEC_SERVER_AUTH_TOKEN, unless DEMO_MODE=true.
 *
 * @module
 */
import { loadConfig } from '../config/config.js';
import { createLogger } from '../common/logger.js';
import { CodecMetrics } from './audit.js';
import { loadCodecKeyRing } from './data-converter.js';
import { AesGcmPayloadCodec } from './payload-codec.js';
import { createCodecServer } from './server.js';

const config = loadConfig();
const logger = createLogger(config, 'codec-server');
const codec = new AesGcmPayloadCodec(await loadCodecKeyRing(config.payloadCodec));
const metrics = new CodecMetrics();
const server = await createCodecServer(config, { codec, logger, metrics });
const metricsEndpoint =
  config.codecServer.metrics && (await metrics.serve(config.codecServer.metrics.host, config.codecServer.metrics.port));
logger.info(
  {
    url: server.url,
    metrics: metricsEndpoint?.url,
    allowedOrigins: config.codecServer.allowedOrigins,
    people: config.codecServer.oidc?.issuer,
    machines: config.codecServer.authToken !== undefined,
  },
  'codec server listening',
);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(
    signal,
    () =>
      void server
        .close()
        .then(() => metricsEndpoint?.server.close())
        .finally(() => logger.info('codec server stopped')),
  );
}
