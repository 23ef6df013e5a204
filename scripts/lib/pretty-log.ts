/**
 * `npm run logs -- --pretty`: the JSON lines of the gateway (pino) and nginx (access log) as one
 * readable line each; anything else passes through as it is.
 */
const LEVELS: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};
/** What every gateway line carries and a reader does not need again. */
const NOISE = new Set(['level', 'time', 'pid', 'hostname', 'msg']);

const value = (v: unknown) => {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return /[\s"=]/.test(s) ? JSON.stringify(s) : s;
};

/** One `docker compose logs` line ("gateway_1  | {...}") made readable. */
export function prettyLine(line: string): string {
  const m = /^(\S+?)(?:[-_]\d+)?\s+\|\s?(.*)$/.exec(line);
  const [service, rest] = m ? [m[1]!.replace(/^coffer[-_]/, ''), m[2]!] : ['', line];
  let data: Record<string, unknown>;
  try {
    data = JSON.parse(rest) as Record<string, unknown>;
  } catch {
    return service ? `${service.padEnd(8)} ${rest}` : rest;
  }
  if (typeof data !== 'object' || data === null) return `${service.padEnd(8)} ${rest}`;
  if (typeof data.level === 'number' && 'msg' in data) {
    const time = new Date(Number(data.time)).toISOString();
    const extra = Object.entries(data)
      .filter(([k]) => !NOISE.has(k))
      .map(([k, v]) => `${k}=${value(v)}`)
      .join(' ');
    return `${time} ${service.padEnd(8)} ${(LEVELS[data.level] ?? String(data.level)).padEnd(5)} ${String(data.msg)}${extra ? ` ${extra}` : ''}`;
  }
  if ('method' in data && 'uri' in data && 'status' in data) {
    const time = new Date(String(data.time)).toISOString();
    return `${time} ${service.padEnd(8)} ${String(data.status)} ${String(data.method)} ${String(data.uri)} ${String(data.bytes_sent)} B ${String(data.duration)} s from ${String(data.remote_addr)}`;
  }
  return `${service.padEnd(8)} ${rest}`;
}
