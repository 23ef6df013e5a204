/** ETag comparison as S3 does it: quotes optional on input, weak prefix ignored, stored form always quoted. */
export function normalizeEtag(etag: string): string {
  return `"${etag.trim().replace(/^W\//, '').replace(/^"|"$/g, '')}"`;
}

/** Whether a comma-separated If-Match / If-None-Match list names `etag` (or is `*`). */
export function etagListMatches(list: string, etag: string): boolean {
  return list.split(',').some((t) => t.trim() === '*' || normalizeEtag(t) === etag);
}
