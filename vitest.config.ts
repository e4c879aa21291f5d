import { defineConfig } from 'vitest/config';

// Unit, conformance and integration tests live beside the code in each package.
// e2e/ is Playwright's and stays out of vitest.
export default defineConfig({
  test: {
    projects: ['packages/*', 'apps/server', 'apps/web'],
  },
});
