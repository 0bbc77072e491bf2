/**
 * TLS for our HTTP servers (the webhook, the simulator): certificate and key, and optionally the CA that client
 * certificates must chain to, for mutual TLS.
 *
 * @module
 */
import { readInlineOrFile } from './secrets.js';

export interface ServerTlsFiles {
  certFile: string;
  keyFile: string;
  caFile?: string | undefined;
  /** Refuse clients without a certificate from `caFile`. */
  requireClientCert: boolean;
}

/** Reads the files into Node's HTTPS server options; undefined (plain HTTP) without files. */
export async function readServerTls(tls: ServerTlsFiles | undefined, server: string) {
  if (!tls) return undefined;
  const read = (file: string, what: string) => readInlineOrFile({ file }, { what: `${server}'s ${what}` });
  const [cert, key, ca] = await Promise.all([
    read(tls.certFile, 'TLS certificate'),
    read(tls.keyFile, 'TLS key'),
    tls.caFile ? read(tls.caFile, 'TLS CA certificate') : undefined,
  ]);
  return {
    cert,
    key,
    ...(ca && { ca }),
    requestCert: tls.requireClientCert,
    rejectUnauthorized: tls.requireClientCert,
  };
}
