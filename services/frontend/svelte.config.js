import adapter from '@sveltejs/adapter-node';
import { vitePreprocess } from '@sveltejs/vite-plugin-svelte';

/** @type {import('@sveltejs/kit').Config} */
const config = {
	preprocess: vitePreprocess(),
	kit: {
		// adapter-node: one small Node server gives us /healthz, runtime env (the same
		// image serves demo and prod) and graceful SIGTERM handling. See docs/frontend.md.
		adapter: adapter({ out: 'build', precompress: false }),
		env: {
			// Only VITE_PUBLIC_* may reach the browser through $env/*/public.
			publicPrefix: 'VITE_PUBLIC_'
		}
	}
};

export default config;
