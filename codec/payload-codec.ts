/**
 * The payload codec: every Temporal payload (workflow input, results, signals, queries, memo, and failure messages
 * with `encodeCommonAttributes`) is AES-256-GCM encrypted before it leaves the process, tagged with the id of the
 * key that encrypted it. Old keys stay in the key ring so history written before a rotation still decodes.
 *
 * @module
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';
import proto from '@temporalio/proto';
import { CodecKeyError } from '../common/errors.js';

const { Payload: PayloadMessage } = proto.temporal.api.common.v1;

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** Key id → 32-byte AES key, and the id new payloads are encrypted with. */
export interface CodecKeyRing {
  activeKeyId: string;
  keys: ReadonlyMap<string, Buffer>;
}

export class AesGcmPayloadCodec implements PayloadCodec {
  readonly #ring: CodecKeyRing;
  readonly #activeKey: Buffer;

  constructor(ring: CodecKeyRing) {
    const active = ring.keys.get(ring.activeKeyId);
    if (!active) throw new CodecKeyError(`The active codec key ${ring.activeKeyId} is not in the key ring`);
    for (const [id, key] of ring.keys) {
      if (key.length !== 32) throw new CodecKeyError(`Codec key ${id} must be 32 bytes (AES-256), not ${key.length}`);
    }
    this.#ring = ring;
    this.#activeKey = active;
  }

  encode(payloads: Payload[]): Promise<Payload[]> {
    // Through a promise chain, so a failure rejects rather than throws.
    return Promise.resolve().then(() =>
      payloads.map((payload) => {
        const iv = randomBytes(IV_BYTES);
        const cipher = createCipheriv('aes-256-gcm', this.#activeKey, iv);
        cipher.setAAD(Buffer.from(this.#ring.activeKeyId));
        const clear = PayloadMessage.encode(payload).finish();
        const sealed = Buffer.concat([iv, cipher.update(clear), cipher.final(), cipher.getAuthTag()]);
        return {
          metadata: {
            encoding: Buffer.from(ENCRYPTED_ENCODING),
            [KEY_ID_METADATA]: Buffer.from(this.#ring.activeKeyId),
          },
          data: sealed,
        };
      }),
    );
  }

  decode(payloads: Payload[]): Promise<Payload[]> {
    return Promise.resolve().then(() =>
      payloads.map((payload) => {
        if (Buffer.from(payload.metadata?.encoding ?? []).toString() !== ENCRYPTED_ENCODING) return payload;
        const keyId = Buffer.from(payload.metadata?.[KEY_ID_METADATA] ?? []).toString();
        const key = this.#ring.keys.get(keyId);
        if (!key) throw new CodecKeyError(`No codec key ${keyId || '(none)'} to decode this payload`);
        const sealed = Buffer.from(payload.data ?? []);
        if (sealed.length < IV_BYTES + TAG_BYTES) throw new CodecKeyError('An encrypted payload is truncated');
        const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, IV_BYTES));
        decipher.setAAD(Buffer.from(keyId));
        decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
        let clear: Buffer;
        try {
          clear = Buffer.concat([
            decipher.update(sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES)),
            decipher.final(),
          ]);
        } catch (err) {
          throw new CodecKeyError(`A payload failed authentication under codec key ${keyId}`, { cause: err });
        }
        return PayloadMessage.decode(clear);
      }),
    );
  }
}
