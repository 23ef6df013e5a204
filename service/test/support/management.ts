import type { OpenApiCheck } from './openapi-check.js';

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

/** With `check`, every answer is checked against service/openapi.json (it throws on a difference). */
export function managementClient(endpoint: string, defaults: Auth = {}, check?: OpenApiCheck) {
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
    const json = res.headers.get('content-type')?.startsWith('application/json');
    const answer = json && text ? JSON.parse(text) : {};
    check?.check(method, path, res.status, json ? answer : text);
    return { status: res.status, body: answer, headers: res.headers };
  };
}

/** The name of the user that holds `accessKey`, as the management API lists users. */
export async function userNameOf(
  call: ReturnType<typeof managementClient>,
  accessKey: string,
): Promise<string> {
  const users = (await call('GET', '/users')).body.users as Array<{
    name: string;
    access_keys: Array<{ access_key: string }>;
  }>;
  const user = users.find((u) => u.access_keys.some((k) => k.access_key === accessKey));
  if (!user) throw new Error(`no user holds the access key ${accessKey}`);
  return user.name;
}

/** An HMAC-signed webhook target, created by an admin for the user holding `accessKey`; resolves its ARN. */
export async function createHmacWebhook(
  call: ReturnType<typeof managementClient>,
  opts: { name: string; accessKey: string; url: string; secret: string },
): Promise<string> {
  const user = await userNameOf(call, opts.accessKey);
  const created = await call('POST', '/webhooks', {
    name: opts.name,
    user,
    url: opts.url,
    auth: 'hmac',
    secret: opts.secret,
  });
  if (created.status !== 201)
    throw new Error(`POST /webhooks answered ${created.status}: ${JSON.stringify(created.body)}`);
  return created.body.arn as string;
}
