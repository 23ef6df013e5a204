import type { FastifyRequest } from 'fastify';
import type { S3Action } from '../authz/actions.js';
import type { Authorizer, Principal } from '../authz/authorize.js';
import type { Bucket } from '../store/types.js';

/** The admin behind a management request, as the authorizer sees a principal. */
export function adminPrincipal(request: FastifyRequest): Principal {
  return { kind: 'admin', username: request.admin!.username };
}

/**
 * The management API acts on buckets as the admin it authenticated, through the same decision as every
 * S3 request (never by borrowing a bucket owner's identity); returns the bucket it resolved.
 */
export async function asAdmin(
  authorizer: Authorizer,
  request: FastifyRequest,
  action: S3Action,
  bucket: string,
  key?: string,
): Promise<Bucket> {
  const grant = await authorizer.authorize({ principal: adminPrincipal(request), action, bucket, key });
  return grant.bucket!;
}
