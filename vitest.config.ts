import { defineConfig } from 'vitest/config';

/** Test layout: test/unit mirrors lib/ and functions/; test/integration runs on the local stack. */
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/helpers/setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2,
    reporters: process.env.CI ? ['default'] : ['default'],
  },
});
