// The management API as the console calls it: JSON in and out, the session's CSRF token on writes.
const API = '/_coffer/api/v1';

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
