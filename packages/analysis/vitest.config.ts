import { defineProject } from 'vitest/config';

export default defineProject({
  test: { name: 'analysis', include: ['src/**/*.test.ts', 'test/**/*.test.ts'] },
});
