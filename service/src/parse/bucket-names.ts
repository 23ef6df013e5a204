/** AWS's general purpose bucket naming rules; the reason names which rule failed. */
export function bucketNameProblem(name: string): string | undefined {
  if (name.length < 3 || name.length > 63) return 'must be between 3 and 63 characters long';
  if (!/^[a-z0-9.-]+$/.test(name)) return 'may contain only lowercase letters, digits, dots and hyphens';
  if (!/^[a-z0-9]/.test(name) || !/[a-z0-9]$/.test(name)) return 'must begin and end with a letter or digit';
  if (name.includes('..')) return 'must not contain two adjacent periods';
  if (/^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name)) return 'must not be formatted as an IP address';
  for (const p of ['xn--', 'sthree-', 'amzn-s3-demo-'])
    if (name.startsWith(p)) return `must not start with '${p}'`;
  for (const s of ['-s3alias', '--ol-s3', '.mrap', '--x-s3', '--table-s3']) {
    if (name.endsWith(s)) return `must not end with '${s}'`;
  }
  return undefined;
}

/** Why a bucket cannot be created in `requested`: a gateway serves exactly one region. */
export function regionProblem(requested: string, served: string): string | undefined {
  return requested === served ? undefined : `this gateway serves region '${served}', not '${requested}'`;
}
