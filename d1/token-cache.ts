/**
 * One cached D1 access token per issuer, refreshed shortly before it expires. Concurrent callers share one
 * refresh, so a burst of calls after expiry makes one token request, not one each.
 *
 * @module
 */

export interface IssuedToken {
  accessToken: string;
  /** When D1 stops accepting it, in epoch ms. */
  expiresAt: number;
}

export class TokenCache {
  readonly #tokens = new Map<string, IssuedToken>();
  readonly #refreshing = new Map<string, Promise<IssuedToken>>();

  constructor(
    private readonly fetchToken: (issuerId: string) => Promise<IssuedToken>,
    private readonly refreshMarginMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** A token valid for at least the refresh margin, from the cache or from one shared refresh. */
  async get(issuerId: string): Promise<string> {
    const cached = this.#tokens.get(issuerId);
    if (cached && this.now() < cached.expiresAt - this.refreshMarginMs) return cached.accessToken;
    let refresh = this.#refreshing.get(issuerId);
    if (!refresh) {
      refresh = this.fetchToken(issuerId)
        .then((token) => {
          this.#tokens.set(issuerId, token);
          return token;
        })
        .finally(() => this.#refreshing.delete(issuerId));
      this.#refreshing.set(issuerId, refresh);
    }
    return (await refresh).accessToken;
  }

  /**
   * Forgets `accessToken` after D1 refused it (expired early or revoked). A token some other caller already
   * replaced is left alone, so many 401s for one stale token cause one refresh.
   */
  invalidate(issuerId: string, accessToken: string): void {
    if (this.#tokens.get(issuerId)?.accessToken === accessToken) this.#tokens.delete(issuerId);
  }
}
