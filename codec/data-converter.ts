/**
 * The data converter shared by the client, the worker and the codec server: the AES-GCM codec over the configured
 * key ring, and failure attributes encoded so the codec covers them too.
 *
 * @module
 */
import path from 'node:path';
import type { DataConverter } from '@temporalio/common';
import { z } from 'zod';
import type { Config } from '../config/config.js';
import { CodecKeyError } from '../common/errors.js';
import { readInlineOrFile } from '../common/secrets.js';
import { AesGcmPayloadCodec, type CodecKeyRing } from './payload-codec.js';

/**
 * The module the worker loads (and bundles into the sandbox) as its failure converter: beside this one, `.ts` from
 * source (tsx), `.js` in the production build (`dist/codec/`).
 */
export const failureConverterPath = path.join(
  import.meta.dirname,
  `failure-converter${path.extname(import.meta.filename)}`,
);

const keyRingSchema = z.strictObject({
  activeKeyId: z.string().min(1),
  keys: z.record(
    z.string().min(1),
    z.base64().refine((key) => Buffer.from(key, 'base64').length === 32, 'must be 32 bytes, base64'),
  ),
});

/** Reads the key ring, inline JSON first, else the file. @throws {CodecKeyError} naming what is wrong. */
export async function loadCodecKeyRing(source: Pick<Config['payloadCodec'], 'inline' | 'file'>): Promise<CodecKeyRing> {
  const text = await readInlineOrFile(source, {
    what: 'payload codec keys',
    hint: 'run `npm run keys` for the demo set',
    error: (message, options) => new CodecKeyError(message, options),
  });
  let parsed;
  try {
    parsed = keyRingSchema.safeParse(JSON.parse(text));
  } catch {
    throw new CodecKeyError('The payload codec keys are not JSON');
  }
  if (!parsed.success) {
    throw new CodecKeyError(
      `The payload codec keys are invalid: ${parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`,
    );
  }
  return {
    activeKeyId: parsed.data.activeKeyId,
    keys: new Map(Object.entries(parsed.data.keys).map(([id, key]) => [id, Buffer.from(key, 'base64')])),
  };
}

/** The client-side data converter (client library, webhook, codec server). */
export async function createDataConverter(config: Config): Promise<DataConverter> {
  return {
    payloadCodecs: [
      new AesGcmPayloadCodec(await loadCodecKeyRing(config.payloadCodec), { namespace: config.payloadCodec.sealedTo }),
    ],
    failureConverterPath,
  };
}
