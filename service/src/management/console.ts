/**
 * Serves the web console (service/console: plain HTML, CSS and ES modules, no build step and no CDN,
 * so it works on air-gapped sites) under /_coffer/console/. Files are read once at startup.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

// The console only ever talks to its own origin; nothing inline, nothing framed.
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

export const CONSOLE_DIR = fileURLToPath(new URL('../../console/', import.meta.url));

export async function registerConsole(
  app: FastifyInstance,
  isSigned: (request: FastifyRequest) => boolean,
  s3: (request: FastifyRequest, reply: FastifyReply) => Promise<void>,
  dir = CONSOLE_DIR,
): Promise<void> {
  const files = new Map<string, { body: Buffer; type: string }>();
  // Pages and helpers are ES modules in subfolders (pages/, lib/): every file below dir, by its relative path.
  for (const name of await readdir(dir, { recursive: true })) {
    const type = TYPES[path.extname(name)];
    if (type) files.set(name.split(path.sep).join('/'), { body: await readFile(path.join(dir, name)), type });
  }
  const serve = (name: string) => files.get(name) ?? files.get('index.html')!;
  for (const entry of ['/_coffer', '/_coffer/', '/_coffer/console'])
    app.get(entry, { schema: { hide: true } }, async (request, reply) => {
      if (isSigned(request)) return s3(request, reply);
      return reply.redirect('/_coffer/console/');
    });
  app.get('/_coffer/console/*', { schema: { hide: true } }, async (request, reply) => {
    if (isSigned(request)) return s3(request, reply);
    const name = (request.params as { '*': string })['*'] || 'index.html';
    const file = serve(name);
    return reply
      .headers({ ...SECURITY_HEADERS, 'content-type': file.type, 'cache-control': 'no-cache' })
      .send(file.body);
  });
}
