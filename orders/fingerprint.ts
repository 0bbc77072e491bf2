/**
 * An order's fingerprint: one keyed hash (HMAC-SHA-256) per top-level field of its canonical form, so that placing
 * an `issuerRequestId` again can say which fields differ from the order placed first, without anything storing
 * those fields, card data included, in a form one could read or guess back (a PAN has too few possible values for
 * an unkeyed hash). It travels in the order workflow's input, which the payload codec encrypts as well; it is not
 * in the memo, since every visibility listing decodes memos.
 *
 * @module
 */
import { createHash, createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { canonicalJson } from '../common/canonical-json.js';
import { loadSecret, type SecretSource } from '../common/secrets.js';

export const orderFingerprintSchema = z.strictObject({
  v: z.literal(1),
  /** Which key made the digests (a hash of it): fingerprints made under another key cannot be compared. */
  keyId: z.string(),
  /** Top-level field name to its digest (base64url); a field the order lacks is absent. */
  fields: z.record(z.string(), z.string()),
});
export type OrderFingerprint = z.infer<typeof orderFingerprintSchema>;

export class OrderFingerprintKey {
  private constructor(
    private readonly key: KeyObject,
    readonly keyId: string,
  ) {}

  /** @throws {KeyMaterialError} when the secret is missing or shorter than 32 bytes. */
  static async load(source: SecretSource): Promise<OrderFingerprintKey> {
    const secret = await loadSecret(source, 'order fingerprint key');
    const keyId = createHash('sha256').update('order-fingerprint-key-id').update(secret).digest('base64url');
    return new OrderFingerprintKey(createSecretKey(secret), keyId.slice(0, 16));
  }

  /**
   * The fingerprint of an order given as its top-level fields (execution settings such as timings left out by the
   * caller). Values are hashed in a canonical JSON form (object keys sorted), so key order never makes a difference.
   */
  fingerprint(order: Readonly<Record<string, unknown>>): OrderFingerprint {
    const fields: Record<string, string> = {};
    for (const [name, value] of Object.entries(order)) {
      if (value === undefined) continue;
      fields[name] = createHmac('sha256', this.key)
        .update(name)
        .update('\0')
        .update(canonicalJson(value))
        .digest('base64url');
    }
    return { v: 1, keyId: this.keyId, fields };
  }
}

/**
 * The top-level fields in which two fingerprints differ, sorted; `undefined` when they cannot be compared (made under
 * different keys, or the placed one is missing or of another shape).
 */
export function differingFields(placed: unknown, again: OrderFingerprint): string[] | undefined {
  const stored = orderFingerprintSchema.safeParse(placed);
  if (!stored.success || stored.data.keyId !== again.keyId) return undefined;
  const names = new Set([...Object.keys(stored.data.fields), ...Object.keys(again.fields)]);
  return [...names].filter((name) => stored.data.fields[name] !== again.fields[name]).sort();
}
