import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// Served by the Custos server at /console/ (see packages/server/src/http/console-routes.ts).
export default defineConfig({
  base: '/console/',
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // no inline scripts or styles: the server's Content-Security-Policy forbids them
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
    target: 'es2022',
  },
  server: {
    // `npm run dev -w packages/console` against a local server: the API on the same origin
    proxy: { '/api': 'http://127.0.0.1:8080' },
  },
});
