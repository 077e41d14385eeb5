import { defineConfig } from 'vitest/config';

// The reliability suite (npm run test:reliability [-- --quick]): long, heavy, one file at a time
// so that memory and descriptor figures are the store's own.
export default defineConfig({
  test: {
    include: ['test/reliability/**/*.test.ts'],
    testTimeout: 30 * 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 1,
    fileParallelism: false,
  },
});
