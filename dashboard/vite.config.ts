// Builds the dashboard single-page app into dist/dashboard, which the gateway serves at `/` (gateway/http/routes/dashboard.ts).
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  base: '/',
  // Everything is bundled: the dashboard must work in a station with no internet (no CDN, no web fonts).
  build: {
    outDir: fileURLToPath(new URL('../dist/dashboard', import.meta.url)),
    emptyOutDir: true,
    assetsDir: 'assets',
    chunkSizeWarningLimit: 1500,
    sourcemap: false,
  },
  server: {
    // `npm run dev:dashboard`: Vite's dev server in front of a running gateway.
    proxy: { '/api': 'http://127.0.0.1:8080', '/auth': 'http://127.0.0.1:8080', '/i/': 'http://127.0.0.1:8080' },
  },
});
