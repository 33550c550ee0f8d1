import react from '@vitejs/plugin-react'
import { defineConfig } from 'vite'

// The Django dev server (`manage.py runserver`); `make dev` starts it on this address.
const djangoDevUrl = process.env.DJANGO_DEV_URL || 'http://127.0.0.1:8000'

// Everything Django serves in production behind nginx. The Host header is kept
// (no changeOrigin) so Django's CSRF origin check sees the page's own origin,
// and the admin login works through the proxy.
const djangoPaths = ['/api', '/admin', '/static', '/media', '/health']
const djangoProxy = Object.fromEntries(
  djangoPaths.map((path) => [path, { target: djangoDevUrl }]),
)

// https://vite.dev/config/
export default defineConfig({
  plugins: [react()],
  server: {
    port: 5173,
    strictPort: true,
    proxy: djangoProxy,
  },
  preview: {
    port: 4173,
    strictPort: true,
    proxy: djangoProxy,
  },
  build: {
    // data: URIs would be blocked by the production CSP (default-src 'self'),
    // so every asset is emitted as its own hashed file.
    assetsInlineLimit: 0,
  },
  test: {
    environment: 'jsdom',
    setupFiles: ['./src/testSetup.js'],
    restoreMocks: true,
    unstubGlobals: true,
  },
})
