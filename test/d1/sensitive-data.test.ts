import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compactDecrypt, decodeProtectedHeader, generateKeyPair } from 'jose';
import { SensitiveDataError } from '../../d1/errors.js';
import { encryptSensitiveData } from '../../d1/sensitive-data.js';

const card = { pan: '4111111111111111', exp: '2906', name: 'JANE DOE', cvv2: '123' };

describe('encryptSensitiveData', () => {
  it('makes a compact ECDH-ES/A256GCM JWE with the kid, which the key holder decrypts back', async () => {
    const { publicKey, privateKey } = await generateKeyPair('ECDH-ES', { crv: 'P-256' });
    const jwe = await encryptSensitiveData(card, { key: publicKey, kid: 'd1-enc-7' });
    assert.equal(jwe.split('.').length, 5);
    assert.deepEqual(decodeProtectedHeader(jwe).kid, 'd1-enc-7');
    assert.equal(decodeProtectedHeader(jwe).alg, 'ECDH-ES');
    assert.equal(decodeProtectedHeader(jwe).enc, 'A256GCM');
    assert.doesNotMatch(jwe, /4111|JANE/);
    const { plaintext } = await compactDecrypt(jwe, privateKey);
    assert.deepEqual(JSON.parse(new TextDecoder().decode(plaintext)), card);
  });

  it('refuses invalid card data, naming each field and rule and never a value', async () => {
    const { publicKey } = await generateKeyPair('ECDH-ES', { crv: 'P-256' });
    const bad = { pan: '4111111111111112', exp: '2913', cvv2: '12345' };
    await assert.rejects(encryptSensitiveData(bad, { key: publicKey, kid: 'k' }), (err: unknown) => {
      assert.ok(err instanceof SensitiveDataError);
      assert.equal(err.code, 'ERR_SENSITIVE_DATA_INVALID');
      assert.deepEqual(err.issues.map((issue) => issue.field).sort(), ['cvv2', 'exp', 'name', 'pan']);
      assert.match(err.message, /pan fails the Luhn check/);
      const everything = `${err.message} ${JSON.stringify(err)} ${err.stack}`;
      for (const value of ['4111111111111112', '2913', '12345']) assert.ok(!everything.includes(value), value);
      return true;
    });
  });
});
