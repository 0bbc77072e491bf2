import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { defaultPayloadConverter } from '@temporalio/common';
import { loadConfig } from '../../config/config.js';
import { CodecKeyError, CodecNamespaceError } from '../../common/errors.js';
import { AesGcmPayloadCodec, NAMESPACE_METADATA } from '../../codec/payload-codec.js';

const oldKey = randomBytes(32);
const newKey = randomBytes(32);
const order = { cardholder: 'JANE DOE', line1: '10 Main St' };

describe('AesGcmPayloadCodec', () => {
  it('encrypts payloads so no clear text remains, and decodes them back', async () => {
    const codec = new AesGcmPayloadCodec({ activeKeyId: 'k1', keys: new Map([['k1', oldKey]]) });
    const [encoded] = await codec.encode([defaultPayloadConverter.toPayload(order)]);
    assert.ok(encoded);
    assert.ok(
      !Buffer.from(encoded.data ?? [])
        .toString('latin1')
        .includes('JANE'),
    );
    assert.equal(Buffer.from(encoded.metadata?.['encryption-key-id'] ?? []).toString(), 'k1');
    const [decoded] = await codec.decode([encoded]);
    assert.deepEqual(defaultPayloadConverter.fromPayload(decoded!), order);
  });

  it('still decodes what an old key encrypted after the active key rotated', async () => {
    const before = new AesGcmPayloadCodec({ activeKeyId: 'k1', keys: new Map([['k1', oldKey]]) });
    const after = new AesGcmPayloadCodec({
      activeKeyId: 'k2',
      keys: new Map([
        ['k1', oldKey],
        ['k2', newKey],
      ]),
    });
    const [written] = await before.encode([defaultPayloadConverter.toPayload(order)]);
    const [read] = await after.decode([written!]);
    assert.deepEqual(defaultPayloadConverter.fromPayload(read!), order);
    const [rewritten] = await after.encode([defaultPayloadConverter.toPayload(order)]);
    assert.equal(Buffer.from(rewritten!.metadata?.['encryption-key-id'] ?? []).toString(), 'k2');
  });

  it('refuses a payload under an unknown key or altered in storage, with a typed error', async () => {
    const codec = new AesGcmPayloadCodec({ activeKeyId: 'k1', keys: new Map([['k1', oldKey]]) });
    const [encoded] = await codec.encode([defaultPayloadConverter.toPayload(order)]);
    const other = new AesGcmPayloadCodec({ activeKeyId: 'k9', keys: new Map([['k9', newKey]]) });
    await assert.rejects(other.decode([encoded!]), CodecKeyError);
    const tampered = Buffer.from(encoded!.data!);
    tampered[20] = (tampered[20] ?? 0) ^ 1;
    await assert.rejects(codec.decode([{ ...encoded, data: tampered }]), /failed authentication/);
  });

  it('passes through payloads it did not encrypt', async () => {
    const codec = new AesGcmPayloadCodec({ activeKeyId: 'k1', keys: new Map([['k1', oldKey]]) });
    const plain = defaultPayloadConverter.toPayload('hello');
    assert.deepEqual(await codec.decode([plain]), [plain]);
  });
  it('seals payloads to a namespace: decoded for it, refused for another, a relabelled one fails authentication', async () => {
    const ring = { activeKeyId: 'k1', keys: new Map([['k1', oldKey]]) };
    const prod = new AesGcmPayloadCodec(ring, { namespace: 'payments-prod' });
    const [sealed] = await prod.encode([defaultPayloadConverter.toPayload(order)]);
    assert.equal(Buffer.from(sealed!.metadata![NAMESPACE_METADATA]!).toString(), 'payments-prod');
    assert.deepEqual(defaultPayloadConverter.fromPayload((await prod.decode([sealed!]))[0]!), order);

    const staging = prod.forNamespace('staging');
    await assert.rejects(staging.decode([sealed!]), CodecNamespaceError);
    const relabelled = { ...sealed, metadata: { ...sealed!.metadata, [NAMESPACE_METADATA]: Buffer.from('staging') } };
    await assert.rejects(staging.decode([relabelled]), /failed authentication/);
    // Passed off as a payload from before namespaces: the label is gone, the authenticated data still holds it.
    const { [NAMESPACE_METADATA]: _label, ...withoutLabel } = sealed!.metadata ?? {};
    await assert.rejects(staging.decode([{ ...sealed, metadata: withoutLabel }]), /failed authentication/);

    // A codec of no namespace (the replay tool) reads every namespace's; payloads from before namespaces still decode.
    assert.deepEqual(
      defaultPayloadConverter.fromPayload((await new AesGcmPayloadCodec(ring).decode([sealed!]))[0]!),
      order,
    );
    const [before] = await new AesGcmPayloadCodec(ring).encode([defaultPayloadConverter.toPayload(order)]);
    assert.deepEqual(defaultPayloadConverter.fromPayload((await staging.decode([before!]))[0]!), order);
  });
  it('seals to TEMPORAL_NAMESPACE by default, and not while PAYLOAD_CODEC_SEAL_NAMESPACE=false (a rollout from before)', async () => {
    assert.equal(loadConfig({ TEMPORAL_NAMESPACE: 'payments-prod' }).payloadCodec.sealedTo, 'payments-prod');
    const rollout = loadConfig({ TEMPORAL_NAMESPACE: 'payments-prod', PAYLOAD_CODEC_SEAL_NAMESPACE: 'false' });
    assert.equal(rollout.payloadCodec.sealedTo, undefined);
    const ring = { activeKeyId: 'k1', keys: new Map([['k1', oldKey]]) };
    const [unsealed] = await new AesGcmPayloadCodec(ring, { namespace: rollout.payloadCodec.sealedTo }).encode([
      defaultPayloadConverter.toPayload(order),
    ]);
    assert.equal(unsealed?.metadata?.[NAMESPACE_METADATA], undefined, 'what an older worker can read');
  });
});
