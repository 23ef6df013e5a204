import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { API_TYPES_FILE, renderApiTypes } from '../../scripts/lib/api-types.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

describe("the console's API types", () => {
  it('are exactly what openapi-typescript generates from service/openapi.json (run npm run render-openapi)', async () => {
    const document = JSON.parse(readFileSync(path.join(ROOT, 'service/openapi.json'), 'utf8'));
    expect(readFileSync(path.join(ROOT, API_TYPES_FILE), 'utf8')).toBe(await renderApiTypes(document));
  });
});
