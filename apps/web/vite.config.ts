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
    // Vendor code in its own chunks, each under Vite's 500 kB warning: they
    // change less often than the app (cached across rebuilds) and load in
    // parallel with it (index.html gets a modulepreload for each), so first
    // paint waits for no extra round trip. Everything is needed for the first
    // screen (the live view opens at once), so nothing is lazy-loaded.
    rolldownOptions: {
      output: {
        codeSplitting: {
          groups: [
            {
              name: 'react',
              test: /[\\/]node_modules[\\/](react|react-dom|scheduler|zustand)[\\/]/,
            },
            { name: 'zod', test: /[\\/]node_modules[\\/]zod[\\/]/ },
            { name: 'd3', test: /[\\/]node_modules[\\/](d3-[a-z-]+|internmap)[\\/]/ },
          ],
        },
      },
    },
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
