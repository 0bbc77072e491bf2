/**
 * Signs in through the development identity provider as a browser would, without one: follows redirects from
 * `start` with a cookie jar per origin, fills the sign-in form when it comes, and stops at the first URL `until`
 * accepts (a client's callback, Web UI's home). For server-side tests of the login; the browser test does the same
 * in Chromium.
 *
 * @module
 */
import { request } from 'undici';

export interface SignInResult {
  /** Where it stopped, or undefined when the password was refused. */
  stoppedAt: URL | undefined;
  /** The sign-in page's answer to a refused password. */
  refusal?: string;
  /** Cookies set by the origin of `stoppedAt`, by name. */
  cookies: Map<string, string>;
}

export async function signInThrough(
  start: string,
  credentials: { username: string; password: string },
  until: (url: URL) => boolean,
): Promise<SignInResult> {
  const jars = new Map<string, Map<string, string>>();
  const jarOf = (url: URL) => {
    let jar = jars.get(url.origin);
    if (!jar) jars.set(url.origin, (jar = new Map<string, string>()));
    return jar;
  };
  const call = async (url: URL, form?: Record<string, string>) => {
    const jar = jarOf(url);
    const answer = await request(url, {
      method: form ? 'POST' : 'GET',
      headers: {
        cookie: [...jar].map(([name, value]) => `${name}=${value}`).join('; '),
        ...(form && { 'content-type': 'application/x-www-form-urlencoded' }),
      },
      ...(form && { body: new URLSearchParams(form).toString() }),
    });
    const setCookies = answer.headers['set-cookie'];
    for (const cookie of Array.isArray(setCookies) ? setCookies : setCookies ? [setCookies] : []) {
      const [pair = ''] = cookie.split(';');
      const at = pair.indexOf('=');
      const [name, value] = [pair.slice(0, at), pair.slice(at + 1)];
      if (value === '' || /max-age=-1|max-age=0\b/i.test(cookie)) jar.delete(name);
      else jar.set(name, value);
    }
    const location = answer.headers.location;
    return {
      status: answer.statusCode,
      next: typeof location === 'string' ? new URL(location, url) : undefined,
      body: await answer.body.text(),
    };
  };

  let url = new URL(start);
  for (let hops = 0; hops < 12; hops += 1) {
    if (until(url)) return { stoppedAt: url, cookies: jarOf(url) };
    let step = await call(url);
    if (/^\/interaction\/[\w-]+$/.test(url.pathname) && step.status === 200) {
      step = await call(new URL(`${url.pathname}/login`, url), credentials);
      if (step.status === 401) return { stoppedAt: undefined, refusal: step.body, cookies: jarOf(url) };
    }
    if (!step.next) throw new Error(`sign-in stopped at ${url.pathname} with ${step.status}`);
    url = step.next;
  }
  throw new Error('sign-in went through too many redirects');
}
