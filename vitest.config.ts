import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['service/test/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    // Service suites share one embedded Postgres per file and real client binaries; keep files serial
    // so the 2-core CI machine is not oversubscribed into timeouts.
    fileParallelism: false,
  },
});
