/**
 * The payload codec: every Temporal payload (workflow input, results, signals, queries, memo, and failure messages
 * with `encodeCommonAttributes`) is AES-256-GCM encrypted before it leaves the process, tagged with the id of the
 * key that encrypted it. Old keys stay in the key ring so history written before a rotation still decodes.
 *
 * A codec for a namespace seals each payload to it: the namespace is in the metadata and in the authenticated data,
 * so a payload of one namespace cannot be passed off as another's (the codec server decodes for the namespaces a
 * person's groups grant, not for whatever ciphertext they bring). Payloads sealed before (no namespace) still decode.
 *
 * @module
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';
import proto from '@temporalio/proto';
import { CodecKeyError, CodecNamespaceError } from '../common/errors.js';

const { Payload: PayloadMessage } = proto.temporal.api.common.v1;

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
export const NAMESPACE_METADATA = 'encryption-namespace';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** Key id → 32-byte AES key, and the id new payloads are encrypted with. */
export interface CodecKeyRing {
  activeKeyId: string;
  keys: ReadonlyMap<string, Buffer>;
}

/** The authenticated data of a payload: its key id, and its namespace when sealed to one. */
const additionalData = (keyId: string, namespace: string | undefined) =>
  Buffer.from(namespace === undefined ? keyId : `${keyId}\0${namespace}`);

export class AesGcmPayloadCodec implements PayloadCodec {
  readonly #ring: CodecKeyRing;
  readonly #activeKey: Buffer;
  readonly #namespace: string | undefined;

  /** `namespace`: seal new payloads to it, and decode only its payloads (and those sealed before namespaces). */
  constructor(ring: CodecKeyRing, { namespace }: { namespace?: string | undefined } = {}) {
    this.#namespace = namespace;
    const active = ring.keys.get(ring.activeKeyId);
    if (!active) throw new CodecKeyError(`The active codec key ${ring.activeKeyId} is not in the key ring`);
    for (const [id, key] of ring.keys) {
      if (key.length !== 32) throw new CodecKeyError(`Codec key ${id} must be 32 bytes (AES-256), not ${key.length}`);
    }
    this.#ring = ring;
    this.#activeKey = active;
  }

  /** The same keys, sealed to `namespace`. */
  forNamespace(namespace: string): AesGcmPayloadCodec {
    return new AesGcmPayloadCodec(this.#ring, { namespace });
  }

  encode(payloads: Payload[]): Promise<Payload[]> {
    // Through a promise chain, so a failure rejects rather than throws.
    return Promise.resolve().then(() =>
      payloads.map((payload) => {
        const iv = randomBytes(IV_BYTES);
        const cipher = createCipheriv('aes-256-gcm', this.#activeKey, iv);
        cipher.setAAD(additionalData(this.#ring.activeKeyId, this.#namespace));
        const clear = PayloadMessage.encode(payload).finish();
        const sealed = Buffer.concat([iv, cipher.update(clear), cipher.final(), cipher.getAuthTag()]);
        return {
          metadata: {
            encoding: Buffer.from(ENCRYPTED_ENCODING),
            [KEY_ID_METADATA]: Buffer.from(this.#ring.activeKeyId),
            ...(this.#namespace !== undefined && { [NAMESPACE_METADATA]: Buffer.from(this.#namespace) }),
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
        const sealedFor = payload.metadata?.[NAMESPACE_METADATA];
        const namespace = sealedFor ? Buffer.from(sealedFor).toString() : undefined;
        if (namespace !== undefined && this.#namespace !== undefined && namespace !== this.#namespace) {
          throw new CodecNamespaceError(
            `A payload sealed for another namespace cannot be decoded for ${this.#namespace}`,
          );
        }
        const sealed = Buffer.from(payload.data ?? []);
        if (sealed.length < IV_BYTES + TAG_BYTES) throw new CodecKeyError('An encrypted payload is truncated');
        const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, IV_BYTES));
        // The namespace named in the metadata is authenticated with the ciphertext: relabelled, it fails.
        decipher.setAAD(additionalData(keyId, namespace));
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
