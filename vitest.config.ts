import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          testTimeout: 10_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.e2e.test.ts'],
          // Real QEMU under TCG on two cores: one lab at a time, generous but bounded timeouts.
          fileParallelism: false,
          pool: 'forks',
          testTimeout: 240_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
