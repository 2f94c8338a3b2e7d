import { sveltekit } from '@sveltejs/kit/vite';
import { loadEnv, type Plugin } from 'vite';
import { defineConfig } from 'vitest/config';

// Dev only: one log line per file change once Vite has invalidated it, so the next
// request or HMR update serves the new code. periph's hot reload ends its reload event
// on this line (compose.yaml, x-periph.reload_marker).
function reloadMarker(): Plugin {
	return {
		name: 'periph-reload-marker',
		apply: 'serve',
		handleHotUpdate({ file }) {
			console.log(`periph:reloaded ${file}`);
		}
	};
}

export default defineConfig(({ mode }) => {
	// '' loads every key, but only into this Node process (the proxy target); nothing
	// here is passed to `define`, so no value reaches the client bundle.
	const env = { ...loadEnv(mode, process.cwd(), ''), ...process.env };
	const backend = env.BACKEND_URL || 'http://localhost:5058';

	return {
		plugins: [sveltekit(), reloadMarker()],
		// import.meta.env exposes only these prefixes to client code. Vite's default
		// ('VITE_') would publish any VITE_* key, secret or not.
		envPrefix: ['VITE_PUBLIC_'],
		server: {
			host: '0.0.0.0',
			port: 5173,
			strictPort: true,
			proxy: {
				'/api': { target: backend, changeOrigin: true },
				'/ws': { target: backend, changeOrigin: true, ws: true }
			}
		},
		test: {
			include: ['src/**/*.test.ts'],
			environment: 'node'
		}
	};
});
