import { readFileSync } from 'node:fs';
import path from 'node:path';
import addFormats from 'ajv-formats';
import { OpenAPIBackend } from 'openapi-backend';

const DOCUMENT = path.resolve(import.meta.dirname, '../../openapi.json');

interface Operation {
  id: string;
  method: string;
  template: string;
  pattern: RegExp;
}

/**
 * Checks real management API answers against the checked-in service/openapi.json with openapi-backend,
 * and remembers which operation answered with which status, so a suite can tell what it never saw.
 */
export class OpenApiCheck {
  readonly seen = new Set<string>();

  private constructor(
    private readonly api: OpenAPIBackend,
    readonly operations: Operation[],
  ) {}

  static async load(): Promise<OpenApiCheck> {
    const definition = JSON.parse(readFileSync(DOCUMENT, 'utf8'));
    // With the formats, a date-time field must hold one (Ajv alone would skip `format`, with a warning).
    const api = new OpenAPIBackend({
      definition,
      quick: false,
      validate: true,
      strict: true,
      customizeAjv: (ajv) => {
        addFormats.default(ajv);
        return ajv;
      },
    });
    await api.init();
    const operations: Operation[] = [];
    for (const [template, item] of Object.entries(definition.paths as Record<string, object>))
      for (const [method, op] of Object.entries(item as Record<string, { operationId?: string }>)) {
        if (!op.operationId) throw new Error(`${method.toUpperCase()} ${template} has no operationId`);
        // `{*}` is the rest of an object key, slashes included; other parameters are one segment.
        const pattern = new RegExp(
          '^' +
            template
              .split(/(\{[^}]+\})/)
              .map((part) =>
                part === '{*}'
                  ? '.+'
                  : part.startsWith('{')
                    ? '[^/]+'
                    : part.replace(/[.*+?^$()|[\]\\]/g, '\\$&'),
              )
              .join('') +
            '$',
        );
        operations.push({ id: op.operationId, method, template, pattern });
      }
    return new OpenApiCheck(api, operations);
  }

  /** The operation a request reaches: a literal segment wins over a parameter, as in the router. */
  operationOf(method: string, requestPath: string): Operation | undefined {
    const p = requestPath.split('?')[0]!;
    const matches = this.operations.filter((o) => o.method === method.toLowerCase() && o.pattern.test(p));
    return matches.sort(
      (a, b) => b.template.replace(/\{[^}]+\}/g, '').length - a.template.replace(/\{[^}]+\}/g, '').length,
    )[0];
  }

  /** Throws, naming every difference, when an answer is not what the document says. */
  check(method: string, requestPath: string, status: number, body: unknown): void {
    const op = this.operationOf(method, requestPath);
    if (!op) {
      // No endpoint: the API's catch-all answers 404 with its usual error body.
      const e = body as { error?: unknown; message?: unknown };
      if (status === 404 && typeof e.error === 'string' && typeof e.message === 'string') return;
      throw new Error(`${method} ${requestPath} is not in service/openapi.json (answered ${status})`);
    }
    const documented = this.api.getOperation(op.id)!.responses ?? {};
    if (!(String(status) in documented))
      throw new Error(
        `${op.id} (${method} ${requestPath}) answered ${status}, which the document does not list`,
      );
    const result = this.api.validateResponse(body, op.id, status);
    if (!result.valid)
      throw new Error(
        `${op.id} (${method} ${requestPath}) ${status} differs from the document: ${JSON.stringify(result.errors)}`,
      );
    this.seen.add(`${op.id} ${status}`);
  }

  /** Operations never seen answering with a success. */
  unseen(): string[] {
    return this.operations
      .filter((o) => ![...this.seen].some((s) => s.startsWith(`${o.id} 2`)))
      .map((o) => `${o.id} (${o.method.toUpperCase()} ${o.template})`);
  }
}
