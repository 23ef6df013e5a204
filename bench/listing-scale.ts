/**
 * Listing at scale: one 1,000-entry page of ListObjectsV2 from a bucket of a million keys against the
 * same page from a bucket of a thousand, flat and with delimiter=/ over 1,000 "folders". The big bucket
 * is seeded in SQL (copies of one real object's row), as a million PUTs would leave it.
 */
import pg from 'pg';
import { alternatingMedianMs } from './timing.js';

export const FOLDERS = 1000;
export const PER_FOLDER = Number(process.env.BENCH_PER_FOLDER ?? 1000);

export interface ListingScale {
  flatSmallMs: number;
  flatBigMs: number;
  folderSmallMs: number;
  folderBigMs: number;
}

/** `put` writes one object through S3; `get` lists through S3 and resolves when the answer is 200. */
export async function listingAtScale(
  put: (path: string) => Promise<unknown>,
  get: (path: string) => Promise<unknown>,
  databaseUrl: string,
): Promise<ListingScale> {
  for (const bucket of ['scale-small', 'scale-big']) {
    await put(`/${bucket}`);
    await put(`/${bucket}/seed`);
  }
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    for (const [bucket, perFolder] of [
      ['scale-small', 1],
      ['scale-big', PER_FOLDER],
    ] as const) {
      await client.query(
        `INSERT INTO objects (bucket_id, key, size, etag, last_modified, user_metadata, checksums, inline_data,
           wrapped_key, segment_size)
         SELECT o.bucket_id, convert_to('d/' || lpad((g / $2)::text, 4, '0') || '/' || lpad((g % $2)::text, 6, '0'), 'UTF8'),
           o.size, o.etag, o.last_modified, '{}', '{}', o.inline_data, o.wrapped_key, o.segment_size
         FROM objects o JOIN buckets b ON b.id = o.bucket_id, generate_series(0, $1::int * $2::int - 1) g
         WHERE b.name = $3 AND o.key = convert_to('seed', 'UTF8')`,
        [FOLDERS, perFolder, bucket],
      );
    }
    await client.query('ANALYZE objects');
  } finally {
    await client.end();
  }
  // The two buckets' pages in turns: the ratio compares the same moments of the machine.
  const [flatSmallMs, flatBigMs, folderSmallMs, folderBigMs] = await alternatingMedianMs(21, [
    () => get('/scale-small?list-type=2&prefix=d/'),
    () => get('/scale-big?list-type=2&prefix=d/'),
    () => get('/scale-small?list-type=2&prefix=d/&delimiter=/'),
    () => get('/scale-big?list-type=2&prefix=d/&delimiter=/'),
  ]);
  return {
    flatSmallMs: flatSmallMs!,
    flatBigMs: flatBigMs!,
    folderSmallMs: folderSmallMs!,
    folderBigMs: folderBigMs!,
  };
}
