import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 180_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'suites',
          include: ['service/test/**/*.test.ts', 'test/unit/**/*.test.ts', 'test/stacks/**/*.test.ts'],
          // Service suites share one embedded Postgres per file and real client binaries; keep files serial
          // so the 2-core CI machine is not oversubscribed into timeouts.
          fileParallelism: false,
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          // The deployment suites mostly wait on Docker (builds, healthchecks, restarts), each with its own
          // project, network, volumes and ports: they run side by side, after the images are built once.
          globalSetup: ['test/e2e/images.setup.ts'],
          fileParallelism: true,
          maxWorkers: 3,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
