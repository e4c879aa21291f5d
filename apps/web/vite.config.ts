// Vite config for the dashboard. The production build goes to dist/, which the
// server hosts on the same port as /ws and /api. In dev, /ws and /api are proxied
// to a local `iocpscope serve` (default 127.0.0.1:7700).
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

const SERVER = 'http://127.0.0.1:7700';

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    // One ~0.5 MB bundle (React, zod schemas, the app), served once from the
    // local server: splitting it would only add round trips.
    chunkSizeWarningLimit: 1024,
  },
  server: {
    host: '127.0.0.1',
    proxy: {
      '/api': { target: SERVER, changeOrigin: false },
      '/ws': { target: SERVER, ws: true, changeOrigin: false },
    },
  },
  preview: { host: '127.0.0.1' },
});
