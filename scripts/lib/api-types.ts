/**
 * The management API's TypeScript types, generated from service/openapi.json with openapi-typescript:
 * the console's JavaScript is type-checked against them (service/console/tsconfig.json), and a test fails
 * when the checked-in copy drifts from the document.
 */
import openapiTS, { astToString } from 'openapi-typescript';

export const API_TYPES_FILE = 'service/console/lib/api-types.d.ts';

const HEADER = `// Generated from service/openapi.json by \`npm run render-openapi\` (openapi-typescript). Do not edit.\n\n`;

export async function renderApiTypes(document: object): Promise<string> {
  return HEADER + astToString(await openapiTS(document as never));
}
