// The management API as the console calls it: JSON in and out, the session's CSRF token on writes.
const API = '/_coffer/api/v1';

/**
 * The API's operations, typed from service/openapi.json (lib/api-types.d.ts, generated): the pages name
 * what each call answers, and tsc -p service/console checks every field they read against the document.
 * @typedef {import('./api-types').operations} Operations
 * @typedef {keyof Operations} OperationId
 */
/**
 * What an operation answers on success.
 * @template {OperationId} Op
 * @typedef {Operations[Op]['responses'] extends { 200: { content: { 'application/json': infer T } } }
 *   ? T
 *   : Operations[Op]['responses'] extends { 201: { content: { 'application/json': infer C } } }
 *     ? C
 *     : never} Answer
 */

export class ApiFailure extends Error {
  constructor(status, body) {
    super(body.message || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

/** Holds the console session; `onExpired` runs when the server says the session has ended. */
export class ApiClient {
  constructor(onExpired) {
    this.session = null;
    this.onExpired = onExpired;
  }

  async call(method, path, body) {
    /** @type {Record<string, string>} */
    const headers = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.session && method !== 'GET') headers['x-csrf-token'] = this.session.csrf_token;
    const res = await fetch(API + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
    });
    const data = res.headers.get('content-type')?.includes('json') ? await res.json() : {};
    if (res.status === 401 && data.error === 'SessionExpired') {
      this.session = null;
      this.onExpired();
    }
    if (!res.ok) throw new ApiFailure(res.status, data);
    return data;
  }
}
