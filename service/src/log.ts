/** The logging surface the domain needs; Fastify's pino logger satisfies it, and tests can pass pino directly. */
export interface Log {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}
