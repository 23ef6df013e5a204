/** Request shapes the management routes share, and the one key check they answer with a 400. */
import { KEY_PROBLEMS, keyProblem, MAX_KEY_BYTES } from '../store/object-keys.js';
import { ApiError } from './errors.js';

export const bucketParam = {
  type: 'object',
  required: ['bucket'],
  properties: { bucket: { type: 'string', minLength: 3, maxLength: 63, pattern: '^[a-z0-9.-]+$' } },
};
export const idParam = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'integer', minimum: 1 } },
};
export const listQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    prefix: { type: 'string', maxLength: MAX_KEY_BYTES },
    delimiter: { type: 'string', maxLength: 1 },
    marker: { type: 'string', maxLength: MAX_KEY_BYTES },
    'max-keys': { type: 'integer', minimum: 1, maximum: 1000, default: 1000 },
  },
};

export function checkKey(key: string, field = 'key'): string {
  const problem = keyProblem(key);
  if (problem) throw new ApiError(400, 'ValidationError', `${field} ${KEY_PROBLEMS[problem]}`);
  return key;
}

export const objectParams = {
  type: 'object',
  required: ['bucket', '*'],
  properties: { ...bucketParam.properties, '*': { type: 'string' } },
};
