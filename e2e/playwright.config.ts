// End-to-end tests: real Chromium (Debian's, never a downloaded build) against the real
// server, which hosts the built dashboard and streams a live demo load.
import { defineConfig } from '@playwright/test';

const PORT = Number(process.env.E2E_PORT ?? 7790);
const ECHO_PORT = Number(process.env.E2E_ECHO_PORT ?? 7791);

export default defineConfig({
  testDir: './specs',
  globalSetup: './global-setup.ts',
  timeout: 60_000,
  expect: { timeout: 15_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [['list'], ['json', { outputFile: '../.reports/playwright.json' }]],
  use: {
    baseURL: `http://127.0.0.1:${PORT}`,
    viewport: { width: 1600, height: 900 },
    screenshot: 'only-on-failure',
    launchOptions: {
      executablePath: '/usr/bin/chromium',
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  },
  webServer: {
    command: `pnpm --dir .. iocpscope serve --port ${PORT} --echo-port ${ECHO_PORT} --demo --recordings-dir e2e/.recordings`,
    url: `http://127.0.0.1:${PORT}/`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: 'pipe',
    stderr: 'pipe',
  },
});
