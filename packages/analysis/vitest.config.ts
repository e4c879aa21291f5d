import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'analysis',
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // The synthetic-trace tests take about a second each on an idle machine;
    // the shared 2-core box is often several times slower. No test asserts time.
    testTimeout: 30_000,
  },
});
