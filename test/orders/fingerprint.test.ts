import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { differingFields, OrderFingerprintKey } from '../../orders/fingerprint.js';

const keyOf = (secret: Buffer) => OrderFingerprintKey.load({ inline: secret.toString('base64'), file: '/nonexistent' });

describe('order fingerprint', () => {
  const secret = randomBytes(32);
  const order = {
    cardId: 'card-1',
    consumerId: 'cons_42',
    shipment: { type: 'INDIVIDUAL', deliveryAddress: { city: 'Austin', line1: '1 Main St' } },
    sensitiveData: { pan: '4111111111111111', exp: '2906', cvv2: '987' },
  };

  it('is the same for the same order, whatever the order of its keys', async () => {
    const key = await keyOf(secret);
    const reordered = {
      sensitiveData: { cvv2: '987', exp: '2906', pan: '4111111111111111' },
      shipment: { deliveryAddress: { line1: '1 Main St', city: 'Austin' }, type: 'INDIVIDUAL' },
      consumerId: 'cons_42',
      cardId: 'card-1',
      trackData: undefined,
    };
    assert.deepEqual(differingFields(key.fingerprint(order), key.fingerprint(reordered)), []);
  });

  it('names the top-level fields that differ, added or left out, and holds no value in clear', async () => {
    const key = await keyOf(secret);
    const placed = key.fingerprint(order);
    const again = key.fingerprint({
      cardId: 'card-1',
      shipment: { ...order.shipment, deliveryAddress: { city: 'Austin', line1: '2 Main St' } },
      sensitiveData: { ...order.sensitiveData, pan: '4012888888881881' },
      trackData: { track2: '4111' },
    });
    assert.deepEqual(differingFields(placed, again), ['consumerId', 'sensitiveData', 'shipment', 'trackData']);
    assert.doesNotMatch(JSON.stringify([placed, again]), /4111|4012|987|2906|Austin|Main|cons_42/);
  });

  it('cannot compare fingerprints made under another key, or a memo of another shape', async () => {
    const [key, otherKey] = await Promise.all([keyOf(secret), keyOf(randomBytes(32))]);
    assert.equal(differingFields(otherKey.fingerprint(order), key.fingerprint(order)), undefined);
    assert.equal(differingFields(undefined, key.fingerprint(order)), undefined);
    assert.equal(differingFields({ v: 2 }, key.fingerprint(order)), undefined);
  });

  it('refuses a key shorter than 32 bytes, and a missing key file, with ERR_KEY_INVALID', async () => {
    await assert.rejects(keyOf(randomBytes(16)), { code: 'ERR_KEY_INVALID' });
    await assert.rejects(OrderFingerprintKey.load({ inline: undefined, file: '/nonexistent/order-fingerprint-key' }), {
      code: 'ERR_KEY_INVALID',
      message: /npm run keys/,
    });
  });
});
