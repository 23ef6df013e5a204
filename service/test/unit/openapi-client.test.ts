import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import openapiTS, { astToString } from 'openapi-typescript';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const DOCUMENT = path.join(ROOT, 'service/openapi.json');
const PROGRAM = path.join(ROOT, 'service/test/fixtures/management-client.ts');
const dirs: string[] = [];

/**
 * Generates types from `doc` with openapi-typescript beside a copy of the client program and type-checks
 * it strictly; inside the repository, so that openapi-fetch resolves from its node_modules.
 */
async function typeCheck(doc: object): Promise<string[]> {
  await mkdir(path.join(ROOT, '.coffer-build'), { recursive: true });
  const dir = await mkdtemp(path.join(ROOT, '.coffer-build', 'openapi-client-'));
  dirs.push(dir);
  await writeFile(path.join(dir, 'management-api.d.ts'), astToString(await openapiTS(doc as never)));
  await copyFile(PROGRAM, path.join(dir, 'management-client.ts'));
  const program = ts.createProgram([path.join(dir, 'management-client.ts')], {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    skipLibCheck: true,
    types: [],
  });
  return ts
    .getPreEmitDiagnostics(program)
    .map(
      (d) =>
        `${d.file ? path.basename(d.file.fileName) : ''}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`,
    );
}

const document = async () => JSON.parse(await readFile(DOCUMENT, 'utf8'));

afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('a client generated from service/openapi.json (openapi-typescript, openapi-fetch)', () => {
  it('type-checks a program that calls every endpoint and reads what each answers', async () => {
    expect(await typeCheck(await document())).toEqual([]);
  });

  it('calls every operation the document has', async () => {
    const doc = await document();
    const program = await readFile(PROGRAM, 'utf8');
    const missing = Object.entries(doc.paths as Record<string, object>).flatMap(([p, ops]) =>
      Object.keys(ops)
        .filter((m) => !program.includes(`api.${m.toUpperCase()}('${p}'`))
        .map((m) => `${m.toUpperCase()} ${p}`),
    );
    expect(missing).toEqual([]);
  });

  it('stops compiling when the document breaks a client: a field dropped, a type changed', async () => {
    const doc = await document();
    const bucket = doc.components.schemas.Bucket;
    delete bucket.properties.total_size_human;
    bucket.required = bucket.required.filter((f: string) => f !== 'total_size_human');
    doc.components.schemas.Stats.properties.active_presigned_urls = { type: 'object' };
    const problems = (await typeCheck(doc)).join('\n');
    expect(problems).toMatch(/Property 'total_size_human' does not exist on type/);
    expect(problems).toContain(
      "Argument of type '{} | undefined' is not assignable to parameter of type 'string | number",
    );
  });
});
