/** A JSON client for the management API, with an API key or a console session (cookie + CSRF token). */
export interface ApiResponse {
  status: number;
  body: Record<string, unknown> & { error?: string; message?: string };
  headers: Headers;
}

export interface Auth {
  key?: string;
  cookie?: string;
  csrf?: string;
}

export function managementClient(endpoint: string, defaults: Auth = {}) {
  return async function call(
    method: string,
    path: string,
    body?: unknown,
    auth: Auth = defaults,
  ): Promise<ApiResponse> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (auth.key) headers.authorization = `Bearer ${auth.key}`;
    if (auth.cookie) headers.cookie = auth.cookie;
    if (auth.csrf) headers['x-csrf-token'] = auth.csrf;
    const res = await fetch(`${endpoint}/_coffer/api/v1${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : {}, headers: res.headers };
  };
}
