/**
 * OAuth 2.0 client credentials in an HTTP `Basic` Authorization header (RFC 6749 §2.3.1): the client id and secret
 * are each form-urlencoded (`application/x-www-form-urlencoded`), then joined by `:` and base64-encoded, so either may
 * hold a `:` or any other character.
 *
 * @module
 */

export interface BasicCredentials {
  clientId: string;
  clientSecret: string;
}

const formEncode = (value: string) => new URLSearchParams([['', value]]).toString().slice(1);

/** The `Authorization` header value for client credentials, encoded as RFC 6749 §2.3.1 says. */
export function basicAuthorization(clientId: string, clientSecret: string): string {
  return `Basic ${Buffer.from(`${formEncode(clientId)}:${formEncode(clientSecret)}`).toString('base64')}`;
}

/**
 * The credentials a `Basic` Authorization header may carry, to try in turn: form-urldecoded, as RFC 6749 §2.3.1
 * has clients send them, then as sent (RFC 7617 alone), since D1's documents show `base64(clientId:clientSecret)`
 * without saying whether D1 encodes them, and a secret with `+` or `%` (a base64 one) would otherwise lock it out.
 * Both forms are the same secret, so trying both admits no one who lacks it. Empty when the header is not Basic.
 */
export function basicCredentialCandidates(header: string | undefined): BasicCredentials[] {
  const encoded = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(header ?? '')?.[1];
  if (!encoded) return [];
  const decoded = Buffer.from(encoded, 'base64').toString();
  const colon = decoded.indexOf(':');
  if (colon < 0) return [];
  const raw = { clientId: decoded.slice(0, colon), clientSecret: decoded.slice(colon + 1) };
  let form: BasicCredentials;
  try {
    form = { clientId: formDecode(raw.clientId), clientSecret: formDecode(raw.clientSecret) };
  } catch {
    // A stray `%` is no form encoding: the credentials were sent as they are.
    return [raw];
  }
  return form.clientId === raw.clientId && form.clientSecret === raw.clientSecret ? [raw] : [form, raw];
}

/** `application/x-www-form-urlencoded` decoding: `+` is a space, `%XX` a byte. @throws {URIError} on a bad `%`. */
function formDecode(value: string): string {
  return decodeURIComponent(value.replaceAll('+', ' '));
}
